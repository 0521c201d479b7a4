"""``conveyor monitor --data`` starts reading the file before it connects to the store, and
only where the run streams that file itself (Parquet, the local engine, no window)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from conveyor.monitoring.monitor import start_reading


def spec(engine: str = "local") -> SimpleNamespace:
    return SimpleNamespace(engine=engine, storage_options={})


def test_a_parquet_file_is_read_ahead_and_a_csv_file_or_other_runs_are_not(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    frame.to_parquet(tmp_path / "new.parquet")
    frame.to_csv(tmp_path / "new.csv", index=False)
    source = start_reading(tmp_path, spec(), "new.parquet")  # relative to the project
    assert source is not None and source._ahead is not None
    read = pd.concat(list(source.frames(["c", "x"], source._ahead.batch_rows)), ignore_index=True)
    pd.testing.assert_frame_equal(read, frame[["c", "x"]])
    assert start_reading(tmp_path, spec(), "new.csv") is None
    assert start_reading(tmp_path, spec("spark"), "new.parquet") is None
    assert start_reading(tmp_path, spec(), "new.parquet", engine="spark") is None
    assert start_reading(tmp_path, spec(), "new.parquet", window="24h") is None
    assert start_reading(tmp_path, spec(), None) is None
    assert start_reading(tmp_path, spec(), "missing.parquet") is None  # the run reports it
