"""The local Arrow engine against the real prod model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor.batch import OutputError, predict
from conveyor.batch.engines.local import LocalEngine
from conveyor.core.config.schema import BatchSpec


def test_output_equals_direct_model_predictions(trained, new_batch, expected, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=1000, workers=2)

    frame = pd.read_parquet(new_batch)
    scored = pd.read_parquet(out)  # readers skip _manifest.json, _SUCCESS and _rejects
    assert len(scored) == len(frame) == result.manifest.rows_out
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    want = expected(frame)
    assert scored["prediction"].tolist() == want["prediction"].tolist()
    assert scored["probability"].to_numpy() == pytest.approx(want["probability"].to_numpy(), abs=1e-12)
    assert set(scored["model_name"]) == {"churn"}
    assert set(scored["model_version"]) == {trained.version}
    run_id = trained.project.client.get_model_version("churn", trained.version).run_id
    assert set(scored["model_run_id"]) == {run_id}
    # the example's pipeline compiles: workers scored it with the inference plan
    assert result.manifest.extra["scoring"] == "inference plan (ColumnTransformer → LogisticRegression)"


def test_a_score_hook_gets_the_estimator_itself(own_project, new_batch, tmp_path: Path) -> None:
    (own_project.path / "hooks.py").write_text(
        "def score(model, X):\n    return [type(model).__name__] * len(X)\n"
    )
    own_project.project.config.batch = BatchSpec(score="hooks.py:score")
    result = predict(own_project.project, "churn@prod", str(new_batch), str(tmp_path / "out"), batch_size=1000)
    assert set(pd.read_parquet(tmp_path / "out")["prediction"]) == {"Pipeline"}
    assert result.manifest.extra["scoring"] == "estimator (Pipeline)"


def test_manifest_records_rows_model_and_fingerprint(trained, new_batch, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    result = predict(trained.project, "churn@v" + trained.version, str(new_batch), str(out), batch_size=1000)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "committed"
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rejected"]) == (2500, 2500, 0)
    assert manifest["model"]["version"] == trained.version
    assert manifest["model"]["ref"] == f"churn@v{trained.version}"
    assert len(manifest["input"]["sha256"]) == 64
    assert [p["rows_in"] for p in manifest["parts"]] == [1000, 1000, 500]
    assert (out / "_SUCCESS").exists() and not (out / "_temporary").exists()
    assert result.summary()["parts"] == 3


def test_bounded_memory_streams_many_small_parts(trained, tmp_path: Path) -> None:
    """An input ten times the batch size, across files, is read and written in chunks."""
    folder = tmp_path / "in"
    for i, rows in enumerate((1200, 800)):
        trained.batch(f"stream{i}", rows=rows, seed=20 + i).rename(folder / f"f{i}.parquet") if folder.exists() \
            else (folder.mkdir(), trained.batch(f"stream{i}", rows=rows, seed=20 + i).rename(folder / f"f{i}.parquet"))
    engine = LocalEngine(workers=2)
    result = predict(trained.project, "churn@prod", str(folder), str(tmp_path / "out"), batch_size=200, engine=engine)
    assert engine.parts_submitted == 10 and engine.workers_used == 2
    assert [p.rows_in for p in result.manifest.parts] == [200] * 10  # chunks span file boundaries
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) == 10
    assert all(len(pd.read_parquet(p)) == 200 for p in parts)


def test_latest_and_csv_glob_input(trained, tmp_path: Path, expected) -> None:
    csv = trained.batch("glob_a", rows=300, seed=31, fmt="csv")
    trained.batch("glob_b", rows=200, seed=32, fmt="csv")
    pattern = str(csv.parent / "glob_*.csv")
    result = predict(trained.project, "churn@latest", pattern, str(tmp_path / "out"), batch_size=128, workers=1)
    assert result.manifest.rows_out == 500
    frame = pd.concat([pd.read_csv(csv), pd.read_csv(csv.parent / "glob_b.csv")], ignore_index=True)
    scored = pd.read_parquet(tmp_path / "out")
    assert scored["prediction"].tolist() == expected(frame)["prediction"].tolist()


def test_refuses_to_overwrite_a_committed_output(trained, new_batch, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=5000)
    with pytest.raises(OutputError, match="already holds a committed"):
        predict(trained.project, "churn@prod", str(new_batch), str(out))


def test_refuses_a_folder_with_other_files(trained, new_batch, tmp_path: Path) -> None:
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores" / "precious.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not a conveyor output"):
        predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "scores"))
    assert (tmp_path / "scores" / "precious.txt").read_text() == "keep me"


def test_model_files_left_by_gone_processes_are_swept(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from conveyor.batch.engines.local import sweep_payloads, write_payload
    from conveyor.stack.processes import ProcessId

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that has ended: what a killed run leaves behind looks like this
    me = ProcessId.current()
    left = tmp_path / f"conveyor-model-{child.pid}--abc.pkl"
    reused = tmp_path / f"conveyor-model-{me.pid}-1-abc.pkl"  # this PID, but another start time
    mine = tmp_path / f"conveyor-model-{me.pid}-{me.started}-abc.pkl"
    other = tmp_path / "conveyor-model-abc.pkl"  # not ours to judge: no owner in the name
    for path in (left, reused, mine, other):
        path.write_bytes(b"model")
    assert sorted(sweep_payloads(str(tmp_path))) == sorted([str(left), str(reused)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])

    path = write_payload(b"model")
    assert path is not None and os.path.basename(path).startswith(f"conveyor-model-{me.pid}-{me.started}-")
    os.unlink(path)
