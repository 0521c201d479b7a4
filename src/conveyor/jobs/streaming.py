"""The stream job: score events from a Kafka topic, a Redis stream or a file until stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


class StreamSpec(JobSpec):
    kind: Literal["stream"] = "stream"
    model: str  # churn@prod | churn@latest | churn@v3
    source: str | None = None  # default: stream.source
    sink: str | None = None  # default: stream.sink
    dead_letters: str | None = None  # default: stream.dead_letters, else <source>.dead
    feedback: str | None = None  # default: stream.feedback
    group: str | None = None
    max_batch: int | None = Field(None, ge=1)
    max_wait_ms: float | None = Field(None, ge=0)
    exactly_once: bool | None = None
    workers: int | None = Field(None, ge=1)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    idle_exit_s: float | None = Field(None, gt=0)
    follow: bool = False
    member: str | None = None


class StreamJob(Job):
    spec = StreamSpec

    def run(self, spec: StreamSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.streaming import StreamOptions, run_stream

        fields = spec.model_dump(exclude={"kind", "project", "env"})
        summary = run_stream(context, StreamOptions(**fields))
        return JobResult(spec.kind, result={"model": spec.model, **summary.to_dict()})
