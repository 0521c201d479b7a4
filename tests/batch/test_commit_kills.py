"""Killed inside the commit, at every step: a reader sees nothing or everything, never a part
of it, and `--resume` commits every row exactly once.

`conveyor predict` runs in a subprocess with CONVEYOR_KILL_AT_COMMIT naming the step at which
it SIGKILLs itself. Locally the output appears in one rename, so before it there is nothing
at all; on S3 (no rename) conveyor's reader goes by the manifest, so before the manifest it
refuses the output and after it reads all of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conveyor.batch import predict
from conveyor.batch.commit import COMMIT_STEPS, KILL_AT_COMMIT
from conveyor.data import SourceNotFoundError, UncommittedOutputError, open_output, open_source

AFTER_MANIFEST = {"manifest", "success", "cleanup"}


def _killed_predict(trained, input: str, output: str, step: str, *extra: str) -> None:
    env = {**os.environ, KILL_AT_COMMIT: step}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "predict", "churn@prod", "--input", input, "--output", output,
         "--batch-size", "500", "--workers", "1", "--project", str(trained.path), *extra],
        env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout[-2000:] + done.stderr[-2000:]


def _exactly_once(source_frame: pd.DataFrame, read: pd.DataFrame) -> None:
    assert read["customer_id"].tolist() == source_frame["customer_id"].tolist()


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_local_output_appears_whole_or_not_at_all(trained, new_batch, tmp_path: Path, step: str) -> None:
    out = tmp_path / "scores"
    _killed_predict(trained, str(new_batch), str(out), step)
    assert not out.exists()  # nothing to see for any reader
    with pytest.raises(FileNotFoundError):
        pd.read_parquet(out)
    with pytest.raises(SourceNotFoundError):
        open_source(str(out))
    assert (tmp_path / ".scores.conveyor-staging").is_dir()  # the attempt, hidden beside it

    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=500, workers=1, resume=True)
    assert result.already_committed == (step in AFTER_MANIFEST)  # finished, not scored again
    frame = pd.read_parquet(new_batch)
    _exactly_once(frame, pd.read_parquet(out))
    _exactly_once(frame, open_output(str(out)).frame())
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS", "_manifest.json", "_profile.json", *[f"part-00000{i}.parquet" for i in range(5)]]
    assert not (tmp_path / ".scores.conveyor-staging").exists()


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_s3_output_is_read_by_its_manifest_only(trained, s3, new_batch, step: str) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.put(str(new_batch), f"lake/kill-{step}/in/batch.parquet")
    input, output = f"s3://lake/kill-{step}/in/", f"s3://lake/kill-{step}/out/"
    options = [f"client_kwargs={json.dumps(s3['client_kwargs'])}", f"key={s3['key']}", f"secret={s3['secret']}"]
    _killed_predict(trained, input, output, step, *[a for o in options for a in ("--storage-option", o)])
    if step == "first-part":  # a plain listing sees one part of five: only the manifest tells
        assert fs.exists(f"lake/kill-{step}/out/part-000000.parquet")
        assert not fs.exists(f"lake/kill-{step}/out/part-000001.parquet")
    frame = pd.read_parquet(new_batch)
    if step in AFTER_MANIFEST:
        _exactly_once(frame, open_source(output, storage_options=s3).frame())
    else:
        with pytest.raises(UncommittedOutputError, match="not committed"):
            open_source(output, storage_options=s3)

    result = predict(trained.project, "churn@prod", input, output, batch_size=500, workers=1, resume=True,
                     storage_options=s3)
    assert result.already_committed == (step in AFTER_MANIFEST)
    _exactly_once(frame, open_output(output, storage_options=s3).frame())
    assert fs.exists(f"lake/kill-{step}/out/_SUCCESS") and not fs.exists(f"lake/kill-{step}/out/_temporary")
