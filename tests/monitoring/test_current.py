"""The pass over the current data, split in partitions and absorbed in order, gives what one
streamed pass gives (what the Spark engine relies on; here without a JVM)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.app import Project
from conveyor.data import open_source
from conveyor.lifecycle.baseline import load_baseline
from conveyor.monitoring import current
from conveyor.monitoring.monitor import _load_model, _settings
from conveyor.scaffold import generate_example_data


def _partitioned(source, baseline, cfg, model, settings) -> current.CheckedData:
    messages: list[str] = []
    plan = current.plan_pass(source, baseline, cfg, model, messages)
    stream = current.Stream.start(baseline, settings)
    for part in source.parts(rows_per_part=1):
        partial = current.profile_chunks(source.frames(plan.wanted, 64, part=part), plan, baseline, settings, model)
        stream.absorb(pickle.loads(pickle.dumps(partial.partition(plan))))  # as a task sends it
    stream.settle()
    return current.finish_pass(stream, source, baseline, cfg, settings, messages)


@pytest.mark.parametrize("rows", [300, 2400])  # under and over drift.small_sample
def test_partitions_absorbed_in_order_equal_one_pass(trained_project: Path, tmp_path: Path, rows: int) -> None:
    project = Project.load(trained_project).lifecycle
    cfg = project.config
    path = generate_example_data(trained_project, rows=rows, seed=rows, drift=0.6, out=tmp_path / "d.parquet")
    pq.write_table(pa.Table.from_pandas(pd.read_parquet(path), preserve_index=False), path,
                   row_group_size=rows // 6)
    source = open_source(str(path))
    run_id = project.registry.version("churn", "1").run_id
    baseline = load_baseline(project.client, run_id)
    model = _load_model(project.client, "churn", "1", cfg.features.inputs, [])
    settings = _settings(cfg.monitor.drift, None)

    whole = current.stream_pass(source, baseline, cfg, model, settings, [])
    parted = _partitioned(source, baseline, cfg, model, settings)

    assert parted.current.rows == whole.current.rows == rows
    exact = {f.column for f in whole.drift.features if f.test == "ks_exact_p"}
    assert bool(exact) == (rows < settings.small_sample)  # the raw values, merged across parts
    for a, b in zip([*whole.drift.features, *whole.drift.outputs], [*parted.drift.features, *parted.drift.outputs]):
        assert (a.column, a.drifted, a.test) == (b.column, b.drifted, b.test)
        assert b.stats == pytest.approx(a.stats, rel=1e-9, abs=1e-12)
    pd.testing.assert_frame_equal(parted.frame, whole.frame)
    labelled = whole.frame[cfg.target].notna().to_numpy()
    assert (parted.predictions == whole.predictions).all()
    assert parted.outputs.select(labelled).scores == pytest.approx(whole.outputs.select(labelled).scores)


def test_without_labels_or_sensitive_columns_parts_send_no_rows(trained_project: Path, tmp_path: Path) -> None:
    project = Project.load(trained_project).lifecycle
    cfg = project.config
    cfg = cfg.model_copy(update={"features": cfg.features.model_copy(update={"sensitive": []})})
    path = generate_example_data(trained_project, rows=1200, seed=4, drift=0.3, out=tmp_path / "u.parquet")
    unlabelled = pd.read_parquet(path).drop(columns=[cfg.target, "gender"])
    pq.write_table(pa.Table.from_pandas(unlabelled, preserve_index=False), path, row_group_size=200)
    source = open_source(str(path))
    baseline = load_baseline(project.client, project.registry.version("churn", "1").run_id)
    model = _load_model(project.client, "churn", "1", cfg.features.inputs, [])
    settings = _settings(cfg.monitor.drift, None)

    plan = current.plan_pass(source, baseline, cfg, model, [])
    part = current.profile_chunks(source.frames(plan.wanted, 64, part=source.parts(1)[0]), plan, baseline,
                                  settings, model).partition(plan)
    assert not plan.rows_needed and part.outputs is None and list(part.frame.columns) == [] and len(part.frame) == 200

    whole = current.stream_pass(source, baseline, cfg, model, settings, [])
    parted = _partitioned(source, baseline, cfg, model, settings)
    assert len(parted.frame) == len(whole.frame) == 1200
    assert parted.drift.drifted_features == whole.drift.drifted_features
    for a, b in zip(whole.drift.outputs, parted.drift.outputs):  # the predictions were profiled
        assert b.stats == pytest.approx(a.stats, rel=1e-9, abs=1e-12)
