"""The learn job: one guarded online learner on a stream, until stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


class LearnSpec(JobSpec):
    kind: Literal["learn"] = "learn"
    model: str | None = None  # the project's model (default: its name)
    source: str | None = None  # default: online.source
    labels: str | None = None  # default: online.labels
    dead_letters: str | None = None  # default: online.dead_letters, else <source>.dead
    group: str | None = None
    max_batch: int | None = Field(None, ge=1)
    max_wait_ms: float | None = Field(None, ge=0)
    idle_exit_s: float | None = Field(None, gt=0)
    member: str | None = None
    follow: bool = False
    metrics_port: int | None = Field(None, ge=0, le=65535)  # /metrics and /healthz; default: none


class LearnJob(Job):
    spec = LearnSpec

    def run(self, spec: LearnSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.online import LearnOptions, run_learn

        fields = spec.model_dump(exclude={"kind", "project", "env"})
        summary = run_learn(context, LearnOptions(**fields))
        return JobResult(spec.kind, result={"model": context.name, **summary.to_dict()})
