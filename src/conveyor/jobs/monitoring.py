"""Monitoring jobs: one monitoring run, and the retrain a monitoring run requested.

A monitor job never trains: when drift calls for a retrain its result carries
``retrain_requested`` (the fields of a :class:`RetrainSpec`), and the runner starts the
retrain job — in the same process (``conveyor monitor``) or as the next task of a DAG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from conveyor.core.errors import ExitCode
from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter



class MonitorSpec(JobSpec):
    kind: Literal["monitor"] = "monitor"
    model: str | None = None
    data: str | None = None  # file, folder or glob (local or URL) to check; else window
    window: str | None = None  # captured traffic of the last 30m / 24h / 7d
    method: str | None = None
    report: str | None = None
    on_drift: list[str] | None = None  # alert, retrain (default: monitor.on_drift)
    version: str | None = None
    fail_on_drift: bool = False  # exit ExitCode.DRIFT on drift, INSUFFICIENT_DATA without a verdict
    storage_options: dict[str, Any] = Field(default_factory=dict)  # fsspec options for data URLs
    engine: Literal["local", "spark"] | None = None  # where data is profiled; default monitor.engine
    master: str | None = None  # Spark master (default: the stand's spark_master, runtime.spark.master,
    # else spark-submit's — leave it unset in a SparkApplication — else local[*])
    retrain: bool = False  # run the retrain a drift outcome asks for in the same job (a CronJob's one step)


class RetrainSpec(JobSpec):
    kind: Literal["retrain"] = "retrain"
    model: str
    monitoring_run_id: str
    reason: str
    auto_promote: bool = False
    data: Literal["training", "window", "both"] = "training"  # monitor.retrain.data
    max_rows: int | None = None
    max_age: str | None = None  # monitor.retrain.max_age, read from time_column
    time_column: str | None = None
    version: str | None = None  # the monitored version: the same data is not retrained


class MonitorJob(Job):
    spec = MonitorSpec

    def run(self, spec: MonitorSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.monitoring.monitor import published, run_monitor

        result = run_monitor(
            context, spec.model, data=spec.data, window=spec.window, method=spec.method,
            report=spec.report, on_drift=spec.on_drift, version=spec.version, reporter=reporter,
            storage_options=spec.storage_options, engine=spec.engine, master=spec.master,
        )
        code = result.verdict.exit_code() if spec.fail_on_drift else ExitCode.OK
        summary = published(result, context.loaded.secrets)
        request = summary.get("retrain_requested")
        if spec.retrain and request:
            retrained = RetrainJob().run(RetrainSpec(project=spec.project, env=spec.env, **request), context, reporter)
            summary["retrain"] = retrained.to_dict()
            code = code or retrained.exit_code
        return JobResult(spec.kind, exit_code=code, result=summary)


class RetrainJob(Job):
    spec = RetrainSpec

    def run(self, spec: RetrainSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.lifecycle.retraining import RetrainRequest, retrain
        from conveyor.monitoring.monitor import record_retrain

        request = RetrainRequest(spec.model, spec.monitoring_run_id, spec.reason, spec.auto_promote,
                                 data=spec.data, max_rows=spec.max_rows, max_age=spec.max_age,
                                 time_column=spec.time_column, version=spec.version)
        outcome = retrain(context, request, reporter)
        outcome.detail = context.loaded.secrets.redact(outcome.detail)
        record_retrain(context.client, spec.monitoring_run_id, outcome)
        return JobResult(spec.kind, exit_code=ExitCode.OK if outcome.ok else ExitCode.FAILED, result=outcome.to_dict())
