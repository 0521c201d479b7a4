"""`--data` Parquet is streamed in chunks: the same results as one chunk or the whole frame."""

from pathlib import Path

import pandas as pd
import pytest

from conveyor.app import Project
from conveyor.core.errors import MonitorDataError
from conveyor.data import Source, open_source
from conveyor.monitoring import current, monitor
from conveyor.monitoring.monitor import MonitorResult, run_monitor


def _source(path: Path) -> Source:
    return open_source(str(path))


def _run(project: Path, data: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int,
         chunks: list[int] | None = None) -> MonitorResult:
    monkeypatch.setattr(current, "CHUNK_ROWS", chunk_rows)
    if chunks is not None:
        frames = Source.frames

        def spy(self, columns, batch_rows):
            for frame in frames(self, columns, batch_rows):
                chunks.append(len(frame))
                yield frame

        monkeypatch.setattr(Source, "frames", spy)
    result = run_monitor(Project.load(project).lifecycle, data=data)
    monkeypatch.undo()
    return result


def _whole_frame(project: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> MonitorResult:
    monkeypatch.setattr(monitor, "open_data", monitor.read_data)
    result = run_monitor(Project.load(project).lifecycle, data=data)
    monkeypatch.undo()
    return result


def _items(result: MonitorResult) -> list:
    drift = result.drift
    return [*drift.features, *drift.outputs, *([drift.target] if drift.target else [])]


def _assert_same(a: MonitorResult, b: MonitorResult) -> None:
    assert a.rows == b.rows
    assert a.messages == b.messages
    assert {f.column: f.drifted for f in _items(a)} == {f.column: f.drifted for f in _items(b)}
    assert a.drift.dataset_drift == b.drift.dataset_drift
    for x, y in zip(_items(a), _items(b)):
        assert x.test == y.test and x.stats == pytest.approx(y.stats, rel=1e-9, abs=1e-9)
    assert (a.performance is None) == (b.performance is None)
    if a.performance is not None:
        assert a.performance.metrics == pytest.approx(b.performance.metrics, abs=1e-9)
        assert a.performance.degraded == b.performance.degraded
        assert a.performance.detector == pytest.approx(b.performance.detector, abs=1e-9)
        assert [m.split(":")[0] for m in a.performance.messages] == \
            [m.split(":")[0] for m in b.performance.messages]
    assert (a.fairness is None) == (b.fairness is None)
    if a.fairness is not None:
        assert a.fairness.columns.keys() == b.fairness.columns.keys()
        for column, metrics in a.fairness.columns.items():
            other = b.fairness.columns[column]
            assert metrics["selection_rate"] == pytest.approx(other["selection_rate"], abs=1e-9)
            for key in ("demographic_parity_difference", "demographic_parity_ratio",
                        "equalized_odds_difference"):
                assert metrics.get(key) == pytest.approx(other.get(key), abs=1e-9)
        assert a.fairness.violations == b.fairness.violations


@pytest.mark.parametrize("rows, chunk_rows", [(None, 300), (600, 128)])
def test_chunked_run_equals_one_chunk_and_the_whole_frame(trained_project, tmp_path, monkeypatch,
                                                          rows, chunk_rows):
    data = trained_project / "data/drifted.parquet"
    if rows is not None:  # below small_sample: the exact tests read the raw values
        data = tmp_path / "small.parquet"
        pd.read_parquet(trained_project / "data/drifted.parquet").head(rows).to_parquet(data)
    sizes: list[int] = []
    chunked = _run(trained_project, data, monkeypatch, chunk_rows, sizes)
    whole = _run(trained_project, data, monkeypatch, 10**9)
    frame = _whole_frame(trained_project, data, monkeypatch)
    assert len(sizes) > 1 and max(sizes) <= chunk_rows and sum(sizes) == chunked.rows
    assert chunked.drift.dataset_drift is True
    if rows is not None:
        assert any("ks_exact" in f.stats for f in chunked.drift.features)
    assert chunked.performance is not None and chunked.fairness is not None
    _assert_same(chunked, whole)
    _assert_same(chunked, frame)


def _variant(trained_project: Path, tmp_path: Path, change) -> Path:
    frame = pd.read_parquet(trained_project / "data/drifted.parquet")
    path = tmp_path / "variant.parquet"
    change(frame).to_parquet(path)
    return path


def _captured(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(__prediction__=(frame["monthly_charges"] > 70).astype(int))


def _unscorable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(tenure_months=frame["tenure_months"].astype(str) + " months")


@pytest.mark.parametrize("change", [_captured, _unscorable])
def test_captured_predictions_and_unscorable_data_match_the_whole_frame(trained_project, tmp_path,
                                                                        monkeypatch, change):
    data = _variant(trained_project, tmp_path, change)
    chunked = _run(trained_project, data, monkeypatch, 300)
    frame = _whole_frame(trained_project, data, monkeypatch)
    _assert_same(chunked, frame)


def test_reader_yields_bounded_chunks_of_the_requested_columns(trained_project):
    source = _source(trained_project / "data/drifted.parquet")
    assert source.total_rows() == 2000 and "customer_id" in source.columns
    frames = list(source.frames(["plan", "monthly_charges"], 300))
    assert len(frames) > 1 and all(len(f) <= 300 for f in frames)
    assert sum(len(f) for f in frames) == 2000
    assert all(list(f.columns) == ["plan", "monthly_charges"] for f in frames)
    whole = pd.read_parquet(trained_project / "data/drifted.parquet",
                            columns=["plan", "monthly_charges"])
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)


def test_monitor_reads_only_the_columns_it_needs(trained_project, monkeypatch):
    read: list[list[str]] = []
    frames = Source.frames

    def spy(self, columns, batch_rows):
        read.append(list(columns))
        yield from frames(self, columns, batch_rows)

    monkeypatch.setattr(Source, "frames", spy)
    run_monitor(Project.load(trained_project).lifecycle, data=trained_project / "data/fresh.parquet")
    assert len(read) == 1
    assert {"monthly_charges", "plan", "gender", "churned"} <= set(read[0])
    assert "customer_id" not in read[0] and "signup_date" not in read[0]


def test_empty_parquet_streams_one_empty_chunk(trained_project, tmp_path):
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(trained_project / "data/fresh.parquet").head(0).to_parquet(empty)
    frames = list(_source(empty).frames(["plan", "tenure_months"], 100))
    assert [len(f) for f in frames] == [0] and list(frames[0].columns) == ["plan", "tenure_months"]


def test_unreadable_parquet_is_a_clear_error(trained_project, tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(MonitorDataError, match="cannot read"):
        run_monitor(Project.load(trained_project).lifecycle, data=broken)
    with pytest.raises(MonitorDataError, match="not found"):
        run_monitor(Project.load(trained_project).lifecycle, data=tmp_path / "missing.parquet")
