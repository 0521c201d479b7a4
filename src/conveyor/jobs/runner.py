"""The one entry point: a spec in, the job run, a result out (errors become results)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field, TypeAdapter, ValidationError

from conveyor.core.errors import ConfigError, ConveyorError, exit_code_of
from conveyor.jobs.base import Job, JobResult
from conveyor.jobs.lifecycle import (
    GateJob,
    GateSpec,
    PromoteJob,
    PromoteSpec,
    RollbackJob,
    RollbackSpec,
    TrainJob,
    TrainSpec,
)
from conveyor.jobs.monitoring import MonitorJob, MonitorSpec, RetrainJob, RetrainSpec
from conveyor.jobs.online import LearnJob, LearnSpec
from conveyor.jobs.packs import PackJob, PackSpec
from conveyor.jobs.scoring import ScoreJob, ScoreSpec
from conveyor.jobs.streaming import StreamJob, StreamSpec

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter

AnySpec = Annotated[
    Union[TrainSpec, GateSpec, PromoteSpec, RollbackSpec, ScoreSpec, MonitorSpec, RetrainSpec, PackSpec,
          StreamSpec, LearnSpec],
    Field(discriminator="kind"),
]
JOBS: dict[str, Job] = {
    job.spec.model_fields["kind"].default: job
    for job in (TrainJob(), GateJob(), PromoteJob(), RollbackJob(), ScoreJob(), MonitorJob(), RetrainJob(),
                PackJob(), StreamJob(), LearnJob())
}
_ADAPTER: TypeAdapter[AnySpec] = TypeAdapter(AnySpec)


def parse_spec(text: str | bytes, where: str = "job spec") -> AnySpec:
    """A spec from its JSON; a ConfigError naming the field for anything wrong."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        kinds = ", ".join(sorted(JOBS))
        raise ConfigError(
            f"invalid job spec: {first['msg']}", file=where, field=field,
            hint=f'a spec is a JSON object with "kind" one of: {kinds}',
        ) from None


def run_job(spec: AnySpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
    """Run the spec's job; a conveyor error becomes a result with its exit code."""
    try:
        return JOBS[spec.kind].run(spec, context, reporter)
    except ConveyorError as exc:
        result: dict[str, object] = {}
        for attribute in ("version", "reasons"):
            if hasattr(exc, attribute):
                result[attribute] = getattr(exc, attribute)
        return JobResult(spec.kind, exit_code_of(exc), result, error=exc.message, hint=exc.hint)
