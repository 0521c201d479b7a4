"""Batch runs profile each part with the baseline's schema and merge them into _profile.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from conveyor.batch import predict
from conveyor.batch.engines.local import LocalEngine
from conveyor.batch.engines.spark import SparkEngine
from conveyor.batch.profiling import NoProfiles, part_frame
from conveyor.lifecycle.baseline import load_baseline
from conveyor.profiles import DatasetProfile, Profiler


def _schema(trained):
    run_id = trained.project.client.get_model_version("churn", trained.version).run_id
    baseline = load_baseline(trained.project.client, run_id)
    assert baseline is not None
    return baseline.schema


def _counts(profile: DatasetProfile) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, column in profile.columns.items():
        counts = column.counts
        out[name] = (dict(counts), dict(column.new), column.other) if isinstance(counts, dict) else counts.tolist()
        out[name + ":missing"] = column.missing
    return out


def test_local_parts_merge_to_the_whole_input_profile(trained, new_batch, expected, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    engine = LocalEngine(workers=2)
    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=600, engine=engine)
    assert len(result.manifest.parts) == 5

    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["profiles"] == {"path": "_profile.json", "rows": 2500, "parts": 5}
    merged = DatasetProfile.from_dict(json.loads((out / manifest["profiles"]["path"]).read_text()))

    frame = pd.read_parquet(new_batch)
    schema = _schema(trained)
    features = [n for n, c in schema.items() if c.role == "feature"]
    whole = Profiler.from_schema(schema).profile(part_frame(frame, expected(frame), features))
    direct = Profiler.from_schema(schema).profile(frame)
    assert merged.rows == whole.rows == 2500
    assert features and all(n in merged.columns for n in features)
    assert {n: _counts(merged)[n] for n in features} == {n: _counts(direct)[n] for n in features}
    assert "__prediction__" in merged.columns and "__score__" in merged.columns
    assert _counts(merged) == _counts(whole)
    assert not (out / "_temporary").exists()


def test_spark_writes_the_merged_profile(trained, spark, new_batch, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=1000,
                     engine=SparkEngine(master="local[2]"))
    assert result.manifest.profiles is not None and result.manifest.profiles["rows"] == 2500
    merged = DatasetProfile.from_dict(json.loads((out / "_profile.json").read_text()))
    assert merged.rows == 2500 and "__prediction__" in merged.columns
    schema = _schema(trained)
    direct = Profiler.from_schema(schema).profile(pd.read_parquet(new_batch))
    features = [n for n, c in schema.items() if c.role == "feature"]
    assert {n: _counts(merged)[n] for n in features} == {n: _counts(direct)[n] for n in features}


def test_no_baseline_means_no_profiles(trained, new_batch, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("conveyor.lifecycle.baseline.load_baseline", lambda client, run_id: None)
    out = tmp_path / "scores"
    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=1000, workers=1)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert result.manifest.profiles is None and manifest["profiles"] is None
    assert "no baseline" in manifest["extra"]["profiles"]
    assert not (out / "_profile.json").exists()
    assert NoProfiles().merge([]) is None
