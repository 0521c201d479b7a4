"""The batch scoring job: a model reference, an input and an output → a committed manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


class ScoreSpec(JobSpec):
    kind: Literal["score"] = "score"
    model: str  # churn@prod | churn@latest | churn@v3
    input: str | None = None  # default: batch.input
    output: str | None = None  # default: batch.output
    engine: Literal["local", "spark"] = "local"
    master: str | None = None
    workers: int | None = None
    resume: bool = False
    via_endpoint: str | None = None
    batch_size: int | None = None
    on_bad_rows: Literal["fail", "reject"] | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)
    # a scheduled run's cron slot in UTC (2026-12-01T0200Z): scores into that slot's own output
    # (core.output.slot_output of the output); Airflow passes its run's logical date
    # "latest": the last slot of batch.schedule at or before now (a CronJob's pod)
    slot: str | None = Field(None, pattern=r"^(\d{4}-\d{2}-\d{2}T\d{4}Z|latest)$")


class ScoreJob(Job):
    spec = ScoreSpec

    def run(self, spec: ScoreSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.batch.job import predict

        output = spec.output if spec.slot is None else _slot_output(spec, context)
        batch = context.config.batch
        source = spec.input or (_in_project(batch.input, context) if batch and batch.input else None)
        result = predict(
            context, spec.model, source, output, engine=spec.engine, master=spec.master,
            workers=spec.workers, resume=spec.resume, via_endpoint=spec.via_endpoint,
            batch_size=spec.batch_size, on_bad_rows=spec.on_bad_rows,
            storage_options=spec.storage_options,
        )
        return JobResult(spec.kind, result=result.summary())


def _slot_output(spec: ScoreSpec, context: LifecycleContext) -> str:
    """The slot's own output: ``{slot}``/``{date}`` of the output (default: batch.output)
    filled in, the date in the scheduler's time zone; a relative one under the project."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from conveyor.core.errors import UsageError
    from conveyor.core.output import slot_output

    output = spec.output or (context.config.batch.output if context.config.batch else None)
    if not output:
        raise UsageError("a score job with a slot needs an output", hint="set batch.output or the spec's output")
    zone = ZoneInfo(context.config.scheduler.timezone)
    if spec.slot == "latest":
        at = _latest_slot(context, zone)
    else:
        at = datetime.strptime(spec.slot or "", "%Y-%m-%dT%H%MZ").replace(tzinfo=UTC)
    date = at.astimezone(zone).strftime("%Y-%m-%d")
    return _in_project(slot_output(output, at.astimezone(UTC).strftime("%Y-%m-%dT%H%MZ"), date), context)


def _in_project(location: str, context: LifecycleContext) -> str:
    """A relative path of the config is relative to the project, wherever the job runs."""
    from pathlib import Path

    if "://" in location or Path(location).is_absolute():
        return location
    return str(context.loaded.project_dir / location)


def _latest_slot(context: LifecycleContext, zone: tzinfo) -> datetime:
    from datetime import datetime

    from cronsim import CronSim

    from conveyor.core.errors import UsageError

    batch = context.config.batch
    if batch is None or batch.schedule is None:
        raise UsageError('slot "latest" needs batch.schedule', hint="give batch.schedule a cron or pass the slot")
    return next(CronSim(batch.schedule, datetime.now(zone), reverse=True))
