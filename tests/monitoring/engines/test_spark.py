"""`conveyor monitor --engine spark` on real pyspark (local[2]): one task per partition, the
partition profiles merged on the driver, and the same verdict and numbers as the local engine
on the same data."""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.app import Project
from conveyor.core.capture import PREDICTION, SCORE
from conveyor.monitoring.engines import SparkMonitorEngine
from conveyor.monitoring.monitor import MonitorResult, run_monitor
from conveyor.scaffold import generate_example_data

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

NOT_COMPARED = {"run_id", "engine", "report"}  # what differs between two runs by design


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session for this module (a JVM start takes seconds)."""
    from pyspark.sql import SparkSession

    already = SparkSession.getActiveSession()
    session = already or (
        SparkSession.builder.master("local[2]")
        .appName("conveyor-monitor-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    if already is None:
        session.stop()


def _split(frame: pd.DataFrame, folder: Path, files: int, row_group_rows: int) -> Path:
    """``frame`` as ``files`` Parquet files of small row groups (many partitions)."""
    folder.mkdir(parents=True)
    size = -(-len(frame) // files)
    for i in range(files):
        table = pa.Table.from_pandas(frame.iloc[i * size:(i + 1) * size], preserve_index=False)
        pq.write_table(table, folder / f"part-{i}.parquet", row_group_size=row_group_rows)
    return folder


def _data(project: Path, tmp: Path, name: str, *, rows: int, drift: float, seed: int) -> Path:
    path = generate_example_data(project, rows=rows, seed=seed, drift=drift, out=tmp / f"{name}.parquet")
    return _split(pd.read_parquet(path), tmp / name, files=3, row_group_rows=max(50, rows // 10))


def _assert_same(local: Any, spark: Any, where: str = "result") -> None:
    """Equal structures; floats equal to 1e-9 (partition profiles merge in another order)."""
    if isinstance(local, dict):
        assert set(local) == set(spark), where
        if where.endswith(".window"):  # the window's end is the time each command ran
            local, spark = {**local, "end": None}, {**spark, "end": None}
        for key in local:
            if key not in NOT_COMPARED:
                _assert_same(local[key], spark[key], f"{where}.{key}")
    elif isinstance(local, list):
        assert len(local) == len(spark), where
        for i, (a, b) in enumerate(zip(local, spark)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(local, float) and isinstance(spark, float):
        assert (math.isnan(local) and math.isnan(spark)) or spark == pytest.approx(local, rel=1e-9, abs=1e-12), where
    else:
        assert local == spark, where


def _both(project: Path, data: Path, **options: Any) -> tuple[MonitorResult, MonitorResult, SparkMonitorEngine]:
    lifecycle = Project.load(project).lifecycle
    options.setdefault("now", datetime.now(UTC))  # one window end for both runs
    local = run_monitor(lifecycle, data=data, **options)
    engine = SparkMonitorEngine(master="local[2]", min_part_rows=1)
    from conveyor.monitoring import monitor

    original = monitor._spark_engine
    monitor._spark_engine = lambda *args: engine  # type: ignore[assignment]  # small parts: many tasks
    try:
        spark = run_monitor(lifecycle, data=data, engine="spark", **options)
    finally:
        monitor._spark_engine = original  # type: ignore[assignment]
    return local, spark, engine


@pytest.mark.parametrize(("name", "rows", "drift", "verdict"), [
    ("drifted", 2400, 1.0, "drift"),
    ("fresh", 2400, 0.0, "no drift"),
    ("small", 240, 0.0, None),  # under drift.small_sample: the exact tests on raw values
])
def test_spark_monitoring_equals_local_monitoring(
    trained_project: Path, spark: Any, tmp_path: Path, name: str, rows: int, drift: float, verdict: str | None,
) -> None:
    data = _data(trained_project, tmp_path, name, rows=rows, drift=drift, seed=40 + rows)
    local, on_spark, engine = _both(trained_project, data)

    assert engine.parts_planned >= 6  # row groups of 3 files: partitions merged on the driver
    assert on_spark.engine == "spark" and local.engine == "local"
    if verdict is not None:
        assert local.verdict.status == verdict
    assert on_spark.verdict.to_dict() == local.verdict.to_dict()
    assert on_spark.performance is not None and on_spark.fairness is not None  # labels, gender
    _assert_same(local.to_dict(), on_spark.to_dict())
    tags = Project.load(trained_project).client.get_run(on_spark.run_id).data.tags
    assert tags["conveyor.monitor.engine"] == "spark"
    assert tags["conveyor.monitor.spark"] == f"{spark.sparkContext.master} ({engine.parts_planned} parts)"
    if name == "small":
        assert any(f.test == "ks_exact_p" for f in on_spark.drift.features)  # raw values merged


def test_csv_files_are_parts_too(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    """A folder of CSV files: one task per file, read by pandas as the local engine reads it."""
    path = generate_example_data(trained_project, rows=1500, seed=21, drift=1.0, out=tmp_path / "daily.parquet")
    frame, folder = pd.read_parquet(path), tmp_path / "daily"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 500:(i + 1) * 500].to_csv(folder / f"day-{i}.csv", index=False)

    local, on_spark, engine = _both(trained_project, folder)
    assert engine.parts_planned == 3 and on_spark.verdict.status == "drift"
    _assert_same(local.to_dict(), on_spark.to_dict())


def test_data_the_model_cannot_score_says_so_on_both_engines(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    """The executors' scoring error comes back as the local engine reports it."""
    path = generate_example_data(trained_project, rows=900, seed=13, drift=0.0, out=tmp_path / "text.parquet")
    frame = pd.read_parquet(path)
    frame["support_calls"] = "many"
    data = _split(frame, tmp_path / "text", files=3, row_group_rows=100)

    local, on_spark, _ = _both(trained_project, data)
    assert any("the model cannot score the data" in m for m in on_spark.messages)
    _assert_same(local.to_dict(), on_spark.to_dict())


def test_empty_data_is_insufficient_on_both_engines(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    pd.read_parquet(trained_project / "data" / "fresh.parquet").head(0).to_parquet(empty / "none.parquet")
    local, on_spark, _ = _both(trained_project, empty)
    assert on_spark.verdict.status == "insufficient data" and on_spark.rows == 0
    _assert_same(local.to_dict(), on_spark.to_dict())


def test_spark_judges_captured_predictions_like_local(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    """Data that carries the served predictions: nothing is scored, the same verdict."""
    path = generate_example_data(trained_project, rows=1800, seed=77, drift=0.5, out=tmp_path / "served.parquet")
    frame = pd.read_parquet(path)
    lifecycle = Project.load(trained_project).lifecycle
    from conveyor.monitoring.monitor import _load_model

    model = _load_model(lifecycle.client, "churn", "1", lifecycle.config.features.inputs, [])
    inputs = frame[lifecycle.config.features.inputs]
    frame[PREDICTION] = model.predict(inputs)
    frame[SCORE] = model.predict_proba(inputs)[:, 1]
    data = _split(frame, tmp_path / "served", files=2, row_group_rows=300)

    local, on_spark, _ = _both(trained_project, data)
    assert on_spark.drift is not None and any(o.role == "prediction" for o in on_spark.drift.outputs)
    _assert_same(local.to_dict(), on_spark.to_dict())


def test_cli_monitors_s3_data_on_spark(trained_project: Path, spark: Any, s3: dict, cli, tmp_path: Path) -> None:
    """The command as a user types it, on an S3 folder (moto), against the local engine."""
    import s3fs

    data = _data(trained_project, tmp_path, "scores", rows=2000, drift=1.0, seed=5)
    folder = f"lake/{uuid.uuid4().hex[:8]}/scores"  # the S3 server is the session's: other tests write lake/scores
    fs = s3fs.S3FileSystem(**s3)
    for file in sorted(data.iterdir()):
        fs.put(str(file), f"{folder}/{file.name}")
    endpoint = f"client_kwargs={json.dumps(s3['client_kwargs'])}"
    common = ["monitor", "churn", "--data", f"s3://{folder}/", "--project", str(trained_project), "--json",
              "--storage-option", endpoint, "--storage-option", "key=testing", "--storage-option", "secret=testing"]

    on_spark = cli(*common, "--engine", "spark", "--master", "local[2]")
    local = cli(*common)

    assert on_spark.exit_code == 0, on_spark.output
    spark_result, local_result = json.loads(on_spark.stdout), json.loads(local.stdout)
    assert spark_result["engine"] == "spark" and spark_result["verdict"]["status"] == "drift"
    _assert_same(local_result, spark_result)


def test_unknown_engine_and_a_master_without_spark_are_usage_errors(trained_project: Path, cli) -> None:
    data = trained_project / "data" / "fresh.parquet"
    unknown = cli("monitor", "--data", str(data), "--project", str(trained_project), "--engine", "dask")
    assert unknown.exit_code == 2 and "unknown monitoring engine 'dask'" in unknown.output
    stray = cli("monitor", "--data", str(data), "--project", str(trained_project), "--master", "local[2]")
    assert stray.exit_code == 2 and "--master is a Spark setting" in stray.output


def test_the_monitor_job_runs_on_spark(trained_project: Path, spark: Any) -> None:
    """What a SparkApplication's driver runs: the monitor job spec with engine and master."""
    from conveyor.jobs.monitoring import MonitorSpec

    spec = MonitorSpec.model_validate_json(json.dumps(
        {"kind": "monitor", "data": str(trained_project / "data" / "drifted.parquet"),
         "engine": "spark", "master": "local[2]", "fail_on_drift": True}
    ))
    result = Project.load(trained_project).run_job(spec)
    assert result.exit_code == 3 and result.result["engine"] == "spark"  # ExitCode.DRIFT
    assert result.result["verdict"]["status"] == "drift"


def test_an_unreadable_part_is_one_clear_error_on_both_engines(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    from conveyor.core.errors import SourceError

    data = _data(trained_project, tmp_path, "broken", rows=600, drift=0.0, seed=3)
    (data / "part-9.parquet").write_bytes(b"not parquet at all")
    lifecycle = Project.load(trained_project).lifecycle
    with pytest.raises(SourceError, match="part-9.parquet") as local:
        run_monitor(lifecycle, data=data)
    with pytest.raises(SourceError, match="part-9.parquet") as on_spark:
        run_monitor(lifecycle, data=data, engine="spark")
    assert type(on_spark.value) is type(local.value)


def test_a_crashed_python_worker_is_one_engine_error(trained_project: Path, spark: Any, tmp_path: Path) -> None:
    from conveyor.core.errors import EngineError
    from conveyor.data import open_source
    from conveyor.lifecycle.baseline import load_baseline
    from conveyor.monitoring.monitor import _settings

    class Crashing:  # unpickled in the executor: its Python worker dies there
        def __reduce__(self) -> tuple[Any, tuple[int]]:
            return os._exit, (3,)

    lifecycle = Project.load(trained_project).lifecycle
    baseline = load_baseline(lifecycle.client, lifecycle.registry.version("churn", "1").run_id)
    source = open_source(str(trained_project / "data" / "fresh.parquet"))
    engine = SparkMonitorEngine(master="local[2]")
    with pytest.raises(EngineError, match="the Spark monitoring job failed") as failed:
        engine.check(source, baseline, lifecycle.config, Crashing(), _settings(lifecycle.config.monitor.drift, None), [])
    assert "\n" not in failed.value.message  # the first line, not the JVM's stack


def test_spark_submit_runs_the_monitor_job_on_its_own_master(trained_project: Path, tmp_path: Path) -> None:
    """A SparkApplication's driver: `spark-submit` starts conveyor's entry point with the job
    spec; the session is built on spark-submit's master (the spec names none)."""
    import subprocess

    import conveyor

    spec = tmp_path / "monitor.json"
    spec.write_text(json.dumps({"kind": "monitor", "engine": "spark",
                                "data": str(trained_project / "data" / "drifted.parquet")}))
    submit = Path(sys.executable).parent / "spark-submit"
    main = Path(conveyor.__file__).parent / "__main__.py"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(
        [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(main),
         "job", "run", str(spec), "--project", str(trained_project), "--quiet"],
        check=False, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["result"]["engine"] == "spark" and result["result"]["verdict"]["status"] == "drift"
    tags = Project.load(trained_project).client.get_run(result["result"]["run_id"]).data.tags
    assert tags["conveyor.monitor.spark"].startswith("local[1] ")
