"""The Spark engine: the same part scoring as Spark tasks (``mapInPandas``), any master.

The driver plans parts from the input's metadata (Parquet row groups, split further when
there are fewer than the cores; one part per CSV file) and turns them into a one-row-per-part
DataFrame. ``mapInPandas`` runs each part in an executor's Python worker: it reads its slice
with Arrow (through fsspec, so s3:// needs no Hadoop S3 jars), scores it with the same
pipeline, writes the same Parquet part and returns its counts. The model travels once as a
broadcast and is unpickled once per executor Python process (workers are reused). The
driver then commits exactly like the local engine.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.batch.engines.base import RunPlan
from conveyor.batch.manifest import PartResult
from conveyor.data import Source
from conveyor.data.spark import (
    DEFAULT_MASTER,
    collect_tasks,
    spark_conf,
    spark_master,
    spark_session,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from conveyor.core.config.schema import SparkSpec

RESULT_SCHEMA = "index long, first_row long, rows_in long, rows_out long, rejected long, error string"


@dataclass(frozen=True)
class PartSlice:
    """Rows ``[start, stop)`` of one row group of one file (CSV: the whole file, rg -1)."""

    index: int
    path: str
    row_group: int
    start: int
    stop: int
    first_row: int


@dataclass
class SparkEngine:
    master: str | None = DEFAULT_MASTER  # None: spark-submit's, else local[*]
    app_name: str = "conveyor-batch"
    conf: dict[str, str] = field(default_factory=dict)
    name: str = "spark"
    parts_planned: int = 0
    _starting: Future[SparkSession] | None = field(default=None, repr=False)

    def prepare(self, parts: int | None) -> None:
        """Start the Spark session (a JVM: seconds) in the background while the model loads."""
        if self._starting is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="conveyor-spark-start")
            self._starting = pool.submit(self.session)
            pool.shutdown(wait=False)  # the thread ends when the session is up

    def close(self) -> None:
        """The session stays up for the next job (it is the active session); nothing to release."""

    @classmethod
    def from_settings(cls, spec: SparkSpec | None, master: str | None = None) -> SparkEngine:
        app_name = spec.app_name if spec and spec.app_name else "conveyor-batch"
        return cls(master=spark_master(spec, master), app_name=app_name, conf=spark_conf(spec))

    def session(self) -> SparkSession:
        """The active session if there is one (tests, notebooks), else a new one from settings."""
        return spark_session(self.master, self.app_name, self.conf)

    def run(self, plan: RunPlan) -> list[PartResult]:
        spark = self._prepared_session()
        parallelism = max(1, spark.sparkContext.defaultParallelism)
        slices = plan_slices(plan.source, plan.batch_size, parallelism)
        self.parts_planned = len(slices)
        todo = [s for s in slices if s.index not in plan.done]
        total = sum(s.stop - s.start for s in slices) if slices and slices[0].row_group >= 0 else None
        plan.progress.start(total, f"scoring {len(todo)} part(s) on Spark {spark.sparkContext.master}")
        plan.progress.advance(sum(p.rows_in for p in plan.done.values()))
        results = dict(plan.done)
        if todo:
            for row in self._score(spark, plan, todo):
                if row["error"]:
                    plan.progress.stop()
                    from conveyor.batch.worker import raise_error

                    raise_error(json.loads(row["error"]))
                part = PartResult(row["index"], row["first_row"], row["rows_in"], row["rows_out"], row["rejected"])
                results[part.index] = part
                plan.progress.advance(part.rows_in)
        plan.progress.stop()
        return [results[i] for i in sorted(results)]

    def _prepared_session(self) -> SparkSession:
        starting, self._starting = self._starting, None
        return self.session() if starting is None else starting.result()  # re-raises a start-up error

    def _score(self, spark: SparkSession, plan: RunPlan, todo: list[PartSlice]) -> list[Any]:
        source, spec = plan.source, plan.spec
        payload = spark.sparkContext.broadcast(plan.model_payload) if plan.model_payload is not None else None
        rows = [(s.index, s.path, s.row_group, s.start, s.stop, s.first_row) for s in todo]
        tasks = spark.createDataFrame(  # one partition per part, and no shuffle
            spark.sparkContext.parallelize(rows, len(rows)),
            "index long, path string, row_group long, start long, stop long, first_row long",
        )

        def score_partition(frames: Any) -> Any:
            import pandas as pd

            from conveyor.batch.worker import context_for, error_info

            for frame in frames:
                out: list[tuple[int, int, int, int, int, str | None]] = []
                for task in frame.itertuples(index=False):
                    try:
                        context = context_for(spec, payload.value if payload is not None else None)
                        part = context.process(
                            int(task.index), int(task.first_row),
                            read_slice(source, task.path, int(task.row_group), int(task.start), int(task.stop)),
                        )
                        out.append((part.index, part.first_row, part.rows_in, part.rows_out, part.rejected, None))
                    except BaseException as exc:  # noqa: BLE001 - sent back as data, raised on the driver
                        out.append((int(task.index), int(task.first_row), 0, 0, 0, json.dumps(error_info(exc), default=str)))
                yield pd.DataFrame(out, columns=["index", "first_row", "rows_in", "rows_out", "rejected", "error"])

        return collect_tasks(tasks.mapInPandas(score_partition, RESULT_SCHEMA), payload,
                             "the Spark job failed", "parts that finished are kept; rerun with --resume")


def plan_slices(source: Source, batch_size: int, parallelism: int) -> list[PartSlice]:
    """Deterministic parts: row groups (split so there are at least 2× parallelism parts,
    and none bigger than 16 batches); CSV files whole."""
    if source.format != "parquet":
        return [PartSlice(i, path, -1, 0, 0, -1) for i, path in enumerate(source.files)]
    import pyarrow.parquet as pq

    fs = source.filesystem
    groups: list[tuple[str, int, int]] = []
    for path in source.files:
        with fs.open(path, "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
        groups += [(path, rg, meta.row_group(rg).num_rows) for rg in range(meta.num_rows and meta.num_row_groups)]
    total = sum(n for _, _, n in groups)
    target = max(batch_size, min(16 * batch_size, -(-total // max(1, 2 * parallelism))))
    slices: list[PartSlice] = []
    first_row = 0
    for path, rg, rows in groups:
        pieces = max(1, -(-rows // target))
        step = -(-rows // pieces)
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            slices.append(PartSlice(len(slices), path, rg, start, stop, first_row))
            first_row += stop - start
    return slices


def read_slice(source: Source, path: str, row_group: int, start: int, stop: int) -> Any:
    """One part's rows as an Arrow table, read in the executor."""
    fs = source.filesystem
    if row_group < 0:
        one = Source(source.url, [path], source.format, source.storage_options, source.text_columns)
        return one.dataset().to_table()
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as handle:
        table = pq.ParquetFile(handle).read_row_group(row_group)
    return table.slice(start, stop - start)
