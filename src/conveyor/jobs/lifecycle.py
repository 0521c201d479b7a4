"""Lifecycle jobs: train (a finished run), gate (its verdict and version), promote, rollback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


class TrainSpec(JobSpec):
    kind: Literal["train"] = "train"
    tags: dict[str, str] = Field(default_factory=dict)  # extra run tags (lineage)
    gate: bool = False  # gate the run in the same job (a CronJob's one step); its result is the gate's


class GateSpec(JobSpec):
    kind: Literal["gate"] = "gate"
    run_id: str  # the run a train job finished
    promote: bool = True  # a passing version takes the first stage (False: a promote job does)


class PromoteSpec(JobSpec):
    kind: Literal["promote"] = "promote"
    to: str
    model: str | None = None  # default: the project's model
    version: str | None = None  # default: the holder of the previous stage
    force: bool = False
    reason: str | None = None


class RollbackSpec(JobSpec):
    kind: Literal["rollback"] = "rollback"
    stage: str
    model: str | None = None
    reason: str | None = None


class TrainJob(Job):
    spec = TrainSpec

    def run(self, spec: TrainSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.lifecycle.training import train

        trained = train(context, reporter, extra_tags=spec.tags)
        if spec.gate:
            from conveyor.lifecycle.registration import gate_and_register

            return JobResult(spec.kind, result=gate_and_register(context, trained.run_id, reporter).to_dict())
        return JobResult(spec.kind, result={"run_id": trained.run_id, "metrics": trained.metrics})


class GateJob(Job):
    spec = GateSpec

    def run(self, spec: GateSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.lifecycle.registration import gate_and_register

        gated = gate_and_register(context, spec.run_id, reporter, promote=spec.promote)
        return JobResult(spec.kind, result=gated.to_dict())


class PromoteJob(Job):
    spec = PromoteSpec

    def run(self, spec: PromoteSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        move = context.promoter.promote(
            spec.model or context.name, spec.to, spec.version, force=spec.force, reason=spec.reason
        )
        return JobResult(spec.kind, result=move.to_dict())


class RollbackJob(Job):
    spec = RollbackSpec

    def run(self, spec: RollbackSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        move = context.promoter.rollback(spec.model or context.name, spec.stage, reason=spec.reason)
        return JobResult(spec.kind, result=move.to_dict())
