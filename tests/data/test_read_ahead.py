"""Reading ahead (``Source.read_ahead``): the same frames as reading on demand, errors raised
where the reader reaches them, a reader nothing takes stopped by ``close``."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.data import SourceError, open_source


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = 1000
    frame = pd.DataFrame({
        "x": rng.normal(size=rows),
        "c": rng.choice(["a", "b", None], rows),
        "when": pd.date_range("2024-01-01", periods=rows, freq="h"),
        "n": np.arange(rows),
    })
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=300)
    return path


def test_frames_read_ahead_equal_frames_read_on_demand(data: Path) -> None:
    expected = list(open_source(str(data)).frames(["c", "x"], 128))
    source = open_source(str(data))
    source.read_ahead(128)
    got = list(source.frames(["c", "x"], 128))
    assert len(got) == len(expected) == 8
    for mine, theirs in zip(got, expected, strict=True):
        pd.testing.assert_frame_equal(mine, theirs)
    again = list(source.frames(["x"], 128))  # taken once: then read on demand
    assert sum(len(f) for f in again) == 1000 and list(again[0].columns) == ["x"]


def test_another_batch_size_reads_on_demand_and_stops_the_reader(data: Path) -> None:
    source = open_source(str(data))
    source.read_ahead(128)
    ahead = source._ahead
    assert ahead is not None
    frames = list(source.frames(["n"], 500))
    assert sum(len(f) for f in frames) == 1000 and max(len(f) for f in frames) > 128
    ahead._thread.join(timeout=60)
    assert not ahead._thread.is_alive()


def test_a_read_error_is_raised_where_the_frames_reach_it(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(path)
    source = open_source(str(path))
    source.schema()
    path.write_bytes(b"no longer parquet")  # the footer was read; the rows cannot be
    source.read_ahead(10)
    with pytest.raises(SourceError, match="cannot read"):
        list(source.frames(["x"], 10))


def test_close_stops_a_reader_nothing_took_and_a_source_still_pickles(data: Path) -> None:
    source = open_source(str(data))
    source.read_ahead(10, depth=1)  # 100 batches: the reader waits on the full queue
    ahead = source._ahead
    assert ahead is not None
    copy = pickle.loads(pickle.dumps(source))
    assert copy._ahead is None and copy.total_rows() == 1000
    source.close()
    ahead._thread.join(timeout=60)
    assert not ahead._thread.is_alive() and source._ahead is None
