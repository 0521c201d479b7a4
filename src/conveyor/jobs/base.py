"""The job contract: a serialisable spec, one ``run(spec, context)``, one result line.

Every operation conveyor runs on a schedule or in a pipeline is a job: the CLI commands,
the embedded scheduler, an Airflow task and a SparkApplication driver all start it the same
way, from its spec (:func:`conveyor.jobs.run_job`). A spec names its project folder and
environment, so a runner in another process or on another machine needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from conveyor.core.errors import ExitCode

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


class JobSpec(BaseModel):
    """Fields every job shares; each job adds its own and a ``kind`` literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    project: str = "."  # the project folder (conveyor.yaml)
    env: str | None = None  # the environment (stand) from conveyor.yaml


@dataclass
class JobResult:
    """What a job prints as its one JSON line; ``exit_code`` is the process's exit status."""

    kind: str
    exit_code: ExitCode = ExitCode.OK
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        line: dict[str, Any] = {"job": self.kind, "ok": self.ok, "exit_code": self.exit_code,
                                "result": self.result}
        if self.error is not None:
            line["error"] = self.error
        if self.hint is not None:
            line["hint"] = self.hint
        return line


class Job:
    """One operation: its spec type and how to run it (subclasses set both)."""

    spec: ClassVar[type[JobSpec]]

    def run(self, spec: Any, context: LifecycleContext, reporter: Reporter) -> JobResult:
        raise NotImplementedError
