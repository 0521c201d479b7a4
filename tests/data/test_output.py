"""Batch outputs as sources: read by the manifest, refused while uncommitted, and never taken
in by a folder or glob among other data (it would be read, scored or trained on again)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor.data import (
    OutputInSourceError,
    SourceError,
    UncommittedOutputError,
    open_output,
    open_source,
)


def _output(root: Path, parts: int, committed: bool = True) -> Path:
    """A batch output folder as `conveyor predict` lays it out (``parts`` parts of 10 rows)."""
    root.mkdir(parents=True)
    for i in range(parts):
        pd.DataFrame({"x": range(i * 10, i * 10 + 10)}).to_parquet(root / f"part-{i:06d}.parquet")
    if committed:
        manifest = {"parts": [{"index": i, "first_row": i * 10, "rows_in": 10, "rows_out": 10, "rejected": 0}
                              for i in range(parts)]}
        (root / "_manifest.json").write_text(json.dumps(manifest))
    else:
        (root / "_temporary").mkdir()
        (root / "_temporary" / "run.json").write_text("{}")
    return root


def test_a_committed_output_is_the_parts_its_manifest_lists(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", parts=3)
    pd.DataFrame({"x": [999]}).to_parquet(out / "part-000007.parquet")  # not in the manifest
    for source in (open_source(str(out)), open_output(str(out))):
        assert source.frame()["x"].tolist() == list(range(30))


def test_an_uncommitted_output_is_refused(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", parts=2, committed=False)
    with pytest.raises(UncommittedOutputError, match="not committed"):
        open_source(str(out))
    with pytest.raises(UncommittedOutputError):
        open_output(str(out))


def test_a_manifest_that_lists_a_missing_part_is_an_error(tmp_path: Path) -> None:
    out = _output(tmp_path / "out", parts=3)
    (out / "part-000001.parquet").unlink()
    with pytest.raises(SourceError, match="1 of the 3 parts its manifest lists are not there"):
        open_source(str(out))


def test_open_output_wants_a_conveyor_output(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "plain" / "a.parquet")
    with pytest.raises(SourceError, match="not a conveyor batch output"):
        open_output(str(tmp_path / "plain"))


@pytest.mark.parametrize("committed", [True, False])
def test_a_folder_or_glob_that_takes_in_an_output_is_refused(tmp_path: Path, committed: bool) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x": range(5)}).to_parquet(data / "daily.parquet")
    _output(data / "scores", parts=2, committed=committed)
    for url in (str(data), f"{data}/**/*.parquet", f"{data}/scores/*.parquet"):
        with pytest.raises(OutputInSourceError, match=r"takes in the batch output .*scores"):
            open_source(url)
    assert open_source(f"{data}/*.parquet").frame()["x"].tolist() == list(range(5))  # the data alone


def test_parts_named_like_ours_outside_an_output_are_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(data / "part-000000.parquet")
    assert open_source(str(data)).frame()["x"].tolist() == [1, 2]
    assert open_source(f"{data}/*.parquet").frame()["x"].tolist() == [1, 2]
