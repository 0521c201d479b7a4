"""Operations as serialisable job specs, run the same way by every runner.

``parse_spec(text)`` reads a spec (JSON), ``run_job(spec, context, reporter)`` runs it and
returns a :class:`JobResult` whose ``to_dict()`` is the one JSON line a runner prints and
whose ``exit_code`` it exits with. ``conveyor job run SPEC`` is that runner on the command
line; the CLI's own commands, the scheduler and exported Airflow tasks go through it too.
"""

from conveyor.jobs.base import Job, JobResult, JobSpec
from conveyor.jobs.lifecycle import GateSpec, PromoteSpec, RollbackSpec, TrainSpec
from conveyor.jobs.monitoring import MonitorSpec, RetrainSpec
from conveyor.jobs.online import LearnSpec
from conveyor.jobs.packs import PackSpec, run_in_pack
from conveyor.jobs.runner import JOBS, AnySpec, parse_spec, run_job
from conveyor.jobs.scoring import ScoreSpec

__all__ = [
    "JOBS",
    "AnySpec",
    "GateSpec",
    "Job",
    "JobResult",
    "JobSpec",
    "LearnSpec",
    "MonitorSpec",
    "PackSpec",
    "PromoteSpec",
    "RetrainSpec",
    "RollbackSpec",
    "ScoreSpec",
    "TrainSpec",
    "parse_spec",
    "run_in_pack",
    "run_job",
]
