"""Monitoring on Spark: the current data profiled as a distributed aggregation.

The driver plans the parts from the input's metadata (consecutive Parquet row groups of one
file, about ``2 × parallelism`` parts in all; a CSV file whole) and hands one part to each
task (``mapInArrow``). A task reads its part with Arrow through fsspec (``s3://`` needs no
Hadoop S3 jars), scores it when the data carries no predictions, and runs the local engine's
pass over it (:func:`conveyor.monitoring.current.profile_chunks`, the baseline's fitted
profiler). What it returns is small: the part's mergeable profile, the few raw numbers the
exact small-sample tests may need, and — only when the data has labels or the project has
sensitive columns — the compact per-row columns performance and fairness judge (target,
sensitive columns, predictions, scores). The driver absorbs the parts in the data's order
(profiles merged, :func:`conveyor.profiles.merge`) and finishes with the same code as the
local engine: the same comparison, the same performance and fairness, the same verdict.

The model travels once as a broadcast and is unpickled once per executor Python process
(workers are reused).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import ConveyorError, EngineError, TaskError
from conveyor.data.spark import (
    DEFAULT_MASTER,
    collect_tasks,
    first_line,
    spark_conf,
    spark_master,
    spark_session,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from conveyor.core.config.schema import SparkSpec
    from conveyor.data import Source, SourcePart
    from conveyor.monitoring.current import CheckedData, PartitionPass, PassPlan
    from conveyor.monitoring.drift import DriftSettings
    from conveyor.profiles import DatasetProfile

APP_NAME = "conveyor-monitor"
MIN_PART_ROWS = 65_536  # fewer rows than this per task cost more in task overhead than they save
RESULT_SCHEMA = "index long, payload binary"
TASK_SCHEMA = "index long"


@dataclass
class SparkMonitorEngine:
    """Profiles a monitoring run's current data on Spark (any master)."""

    master: str | None = DEFAULT_MASTER  # None: spark-submit's, else local[*]
    app_name: str = APP_NAME
    conf: dict[str, str] = field(default_factory=dict)
    min_part_rows: int = MIN_PART_ROWS
    parts_planned: int = 0  # by the last check
    master_used: str | None = None  # the session's master in the last check

    @classmethod
    def from_settings(cls, spec: SparkSpec | None, master: str | None = None) -> SparkMonitorEngine:
        app_name = spec.app_name if spec and spec.app_name else APP_NAME
        return cls(master=spark_master(spec, master), app_name=app_name, conf=spark_conf(spec))

    def session(self) -> SparkSession:
        return spark_session(self.master, self.app_name, self.conf)

    def check(
        self, source: Source, baseline: DatasetProfile, cfg: Any, model: Any,
        settings: DriftSettings, messages: list[str],
    ) -> CheckedData:
        """What :func:`conveyor.monitoring.current.stream_pass` gives on the same data."""
        from conveyor.monitoring import current

        spark = self.session()
        self.master_used = spark.sparkContext.master
        parallelism = max(1, spark.sparkContext.defaultParallelism)
        parts = source.parts(self.rows_per_part(source, parallelism))
        self.parts_planned = len(parts)
        if not parts:  # no rows anywhere: nothing to distribute
            return current.stream_pass(source, baseline, cfg, model, settings, messages)
        plan = current.plan_pass(source, baseline, cfg, model, messages)
        stream = current.Stream.start(baseline, settings)
        for part in self._run(spark, PartTask(source, plan, baseline, settings), parts, model):
            stream.absorb(part)
        stream.settle()
        return current.finish_pass(stream, source, baseline, cfg, settings, messages)

    def rows_per_part(self, source: Source, parallelism: int) -> int:
        """About two parts per core, none smaller than ``min_part_rows`` rows."""
        total = source.total_rows() or 0
        return max(self.min_part_rows, -(-total // (2 * parallelism)))

    def _run(self, spark: SparkSession, task: PartTask, parts: list[SourcePart], model: Any) -> list[PartitionPass]:
        from conveyor.scoring import pack_object

        model_payload = None if model is None or not task.plan.scoring else pack_object(_portable(model))
        payload = spark.sparkContext.broadcast(model_payload) if model_payload is not None else None
        shipped = {p.index: p for p in parts}
        tasks = spark.createDataFrame(  # one partition per part, and no shuffle
            spark.sparkContext.parallelize([(p.index,) for p in parts], len(parts)), TASK_SCHEMA
        )

        def check_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            import pyarrow as pa

            from conveyor.monitoring.engines.spark import run_part

            for batch in batches:
                indexes = batch.column(0).to_pylist()
                model_bytes = payload.value if payload is not None else None
                results = [run_part(task, shipped[i], model_bytes) for i in indexes]
                yield pa.RecordBatch.from_pydict({"index": indexes, "payload": results},
                                                 schema=pa.schema([("index", pa.int64()), ("payload", pa.binary())]))

        rows = collect_tasks(tasks.mapInArrow(check_partition, RESULT_SCHEMA), payload,
                             "the Spark monitoring job failed",
                             "check the executors' logs; the local engine (--engine local) runs the same checks")
        return [_received(row["payload"]) for row in sorted(rows, key=lambda r: r["index"])]


@dataclass(frozen=True)
class PartTask:
    """What every task is given besides its part and the model (pickled with the task)."""

    source: Source
    plan: PassPlan
    baseline: DatasetProfile
    settings: DriftSettings


_MODELS: dict[str, Any] = {}  # per executor Python process: payload digest → model


def run_part(task: PartTask, part: SourcePart, model_payload: bytes | None) -> bytes:
    """One part's pass, pickled; an error is pickled instead, to be raised on the driver."""
    from conveyor.monitoring.current import CHUNK_ROWS, profile_chunks

    try:
        model = None if model_payload is None else _model(model_payload)
        chunks = _part_frames(task.source, part, task.plan.wanted, CHUNK_ROWS)
        stream = profile_chunks(chunks, task.plan, task.baseline, task.settings, model)
        return pickle.dumps(stream.partition(task.plan))
    except BaseException as exc:  # noqa: BLE001 - sent back as data, raised on the driver
        return pickle.dumps(_Failure.of(exc))


def _part_frames(source: Source, part: SourcePart, columns: list[str], batch_rows: int) -> Iterator[pd.DataFrame]:
    """The part's rows as frames: Parquet streamed in batches; a CSV file whole, read by pandas
    as the local engine reads it."""
    if source.format == "parquet":
        yield from source.frames(columns, batch_rows, part=part)
        return
    frame = source.part_source(part).frame()
    yield frame[[c for c in columns if c in frame.columns]]


def _model(payload: bytes) -> Any:
    from conveyor.scoring import payload_key, unpack

    key = payload_key(payload)
    if key not in _MODELS:
        _MODELS.clear()  # one model at a time: a reused worker may serve another run next
        _MODELS[key] = unpack(payload)
    return _MODELS[key]


def _portable(model: Any) -> Any:
    """What executors score with: the scorer's portable form behind the same estimator view."""
    from conveyor.scoring import EstimatorView, as_estimator

    if isinstance(model, EstimatorView):
        return as_estimator(model.scorer.portable())
    return model


def _received(payload: bytes) -> PartitionPass:
    """A part's pass, or the error its task raised, raised here: a conveyor error as the
    local engine would raise it (same type, message and hint), any other as an EngineError."""
    received = pickle.loads(payload)
    if isinstance(received, _Failure):
        raise received.error() from None
    return received  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Failure:
    """An error of a task as data: its type (when it is conveyor's), message and hint."""

    kind: str
    message: str
    hint: str | None
    conveyor: bool

    @classmethod
    def of(cls, exc: BaseException) -> _Failure:
        if isinstance(exc, ConveyorError) and not isinstance(exc, TaskError):
            return cls(type(exc).__name__, exc.message, exc.hint, conveyor=True)
        return cls(type(exc).__name__, first_line(exc), None, conveyor=False)

    def error(self) -> ConveyorError:
        from conveyor.core import errors

        kind = getattr(errors, self.kind, None) if self.conveyor else None
        if isinstance(kind, type) and issubclass(kind, ConveyorError):
            try:
                return kind(self.message, hint=self.hint)
            except TypeError:  # an error built from other arguments (refused rows)
                pass
        return EngineError(f"a Spark monitoring task failed: {self.kind}: {self.message}",
                           hint=self.hint or "the local engine (--engine local) runs the same checks")
