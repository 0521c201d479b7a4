"""The pipelines a config schedules, as the job specs each one runs.

- ``train`` (``train.schedule``): the train job, then the gate job on the run it finished
  (the gate registers the version and gives it the first stage when it passes).
- ``batch`` (``batch.schedule``): the score job of ``<model>@<batch.stage>`` (default: the
  last stage) on ``batch.input``, into the slot's own output (:func:`slot_output`), always
  with ``resume`` so a slot run again continues — or finds committed — its own output.
- ``monitor`` (``monitor.schedule``): the monitor job on ``monitor.data`` or
  ``monitor.window``; when its outcome asks for a retrain (drift, ``on_drift: [retrain]``),
  the ``retrain`` pipeline runs next: the retrain job (train → gate → first stage; later
  stages only with ``monitor.auto_promote``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.output import slot_output
from conveyor.jobs import (
    AnySpec,
    GateSpec,
    JobResult,
    MonitorSpec,
    RetrainSpec,
    ScoreSpec,
    TrainSpec,
)
from conveyor.scheduling.slots import Slot

if TYPE_CHECKING:
    from conveyor.core.config.loader import LoadedConfig

RETRAIN = "retrain"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline with a cron schedule."""

    name: str
    cron: str


def scheduled(loaded: LoadedConfig) -> list[Pipeline]:
    """The pipelines of the config that have a ``schedule``, in a fixed order."""
    config = loaded.config
    crons = {
        "train": config.train.schedule,
        "batch": config.batch.schedule if config.batch else None,
        "monitor": config.monitor.schedule,
    }
    return [Pipeline(name, cron) for name, cron in crons.items() if cron]


def first_spec(pipeline: str, slot: Slot, loaded: LoadedConfig) -> AnySpec:
    """The first job a pipeline runs for ``slot``."""
    where: dict[str, Any] = {"project": str(loaded.project_dir), "env": loaded.env_name}
    if pipeline == "train":
        return TrainSpec(**where)
    if pipeline == "monitor":
        return MonitorSpec(**where)
    if pipeline == "batch":
        config = loaded.config
        batch = config.batch
        assert batch is not None and batch.input and batch.output  # the schema checks it
        zone = config.scheduler.timezone
        from zoneinfo import ZoneInfo

        date = slot.at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")
        return ScoreSpec(
            **where,
            model=f"{config.name}@{batch.stage or config.stages[-1]}",
            input=_absolute(batch.input, loaded.project_dir),
            output=_absolute(slot_output(batch.output, slot.key, date), loaded.project_dir),
            resume=True,
        )
    raise ValueError(f"no pipeline {pipeline!r}")


def next_spec(spec: AnySpec, result: JobResult) -> AnySpec | None:
    """The job that follows a successful one within its pipeline (train → gate)."""
    if isinstance(spec, TrainSpec):
        return GateSpec(project=spec.project, env=spec.env, run_id=str(result.result["run_id"]))
    return None


def retrain_spec(spec: AnySpec, result: JobResult) -> RetrainSpec | None:
    """The retrain a monitor job's outcome asks for (None: no drift, or no retrain wanted)."""
    request = result.result.get("retrain_requested") if isinstance(spec, MonitorSpec) else None
    if not request:
        return None
    return RetrainSpec(project=spec.project, env=spec.env, **request)


def rejected(spec: AnySpec, result: JobResult) -> bool:
    """The step ended in a verdict, not an error: the gate refused the candidate (retrying
    would train the same data into the same verdict)."""
    if isinstance(spec, GateSpec):
        return not result.ok and "reasons" in result.result
    if isinstance(spec, RetrainSpec):
        return not result.ok and bool(result.result.get("version"))
    return False


def job_run_id(spec: AnySpec, result: JobResult) -> str | None:
    """The MLflow run the job made, for the history."""
    found = result.result.get("run_id")
    return str(found) if found else None


def summary(spec: AnySpec, result: JobResult) -> str:
    """One line saying what came of a successful job."""
    r = result.result
    if isinstance(spec, GateSpec):
        return f"v{r.get('version')} passed the gate → {r.get('alias') or 'no stage'}"
    if isinstance(spec, ScoreSpec):
        state = "already committed" if r.get("already_committed") else f"{r.get('rows_out')} rows"
        return f"{state} → {r.get('output')}"
    if isinstance(spec, MonitorSpec):
        sentence = (r.get("verdict") or {}).get("sentence") or "no verdict"
        return f"v{r.get('version')}: {sentence}"  # the verdict's own words: status, signals, why
    if isinstance(spec, RetrainSpec):
        return str(r.get("detail", "retrained"))
    return "done"


def _absolute(location: str, project_dir: Path) -> str:
    if "://" in location or Path(location).is_absolute():
        return location
    return str(project_dir / location)
