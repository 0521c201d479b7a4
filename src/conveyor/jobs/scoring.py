"""The batch scoring job: a model reference, an input and an output → a committed manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
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


class ScoreJob(Job):
    spec = ScoreSpec

    def run(self, spec: ScoreSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        from conveyor.batch.job import predict

        result = predict(
            context, spec.model, spec.input, spec.output, engine=spec.engine, master=spec.master,
            workers=spec.workers, resume=spec.resume, via_endpoint=spec.via_endpoint,
            batch_size=spec.batch_size, on_bad_rows=spec.on_bad_rows,
            storage_options=spec.storage_options,
        )
        return JobResult(spec.kind, result=result.summary())
