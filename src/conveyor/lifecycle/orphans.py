"""No orphaned runs: every training and monitoring run names the process that owns it, and a RUNNING run
whose owner is gone is marked KILLED by the next command that sees it.

A run is owned by the host, PID and start time of the process that created it
(``conveyor.owner.*`` tags). :func:`reap_orphans` — run whenever a project connects to its
tracking store — looks at the model's RUNNING runs: one owned by a process on this host that
no longer runs (or whose PID now names a later process) is set to KILLED and tagged
``conveyor.ended_by=owner-gone``. Runs owned on other hosts are left alone: from here their
owner cannot be told gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.core import tags
from conveyor.stack.processes import ProcessId

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

OWNER_GONE = "owner-gone"
_MAX_RUNNING = 1000  # RUNNING runs looked at per command; more would be a store to clean by hand


def owner_tags(owner: ProcessId | None = None) -> dict[str, str]:
    """The tags that name ``owner`` (default: this process) as a run's owner."""
    owner = owner or ProcessId.current()
    return {tags.OWNER_HOST: owner.host, tags.OWNER_PID: str(owner.pid), tags.OWNER_STARTED: owner.started}


def owner_of(run_tags: dict[str, str]) -> ProcessId | None:
    """The process a run's tags name as its owner (None: the run has no owner tags)."""
    try:
        return ProcessId(run_tags[tags.OWNER_HOST], int(run_tags[tags.OWNER_PID]), run_tags.get(tags.OWNER_STARTED, ""))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class Reaped:
    """A run marked KILLED because its owner is gone."""

    run_id: str
    owner: ProcessId

    def line(self, model: str) -> str:
        return (f"{model}: run {self.run_id} was left RUNNING by process {self.owner.pid} on "
                f"{self.owner.host}, which is gone; marked it KILLED")


MONITORING_SUFFIX = "-monitoring"  # the experiment of a model's monitoring runs


def end_own_runs(client: MlflowClient, model: str, why: str) -> list[str]:
    """Mark KILLED, tagged ``conveyor.ended_by=why``, the model's RUNNING training and
    monitoring runs this process owns (a process stopping while jobs run on its other
    threads); their ids."""
    me = ProcessId.current()
    ended = []
    for run in _running(client, model):
        if owner_of(run.data.tags) == me:
            client.set_tag(run.info.run_id, tags.ENDED_BY, why)
            client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(str(run.info.run_id))
    return ended


def _running(client: MlflowClient, model: str) -> list[Run]:
    experiments = [client.get_experiment_by_name(n) for n in (model, f"{model}{MONITORING_SUFFIX}")]
    ids = [e.experiment_id for e in experiments if e is not None]
    if not ids:
        return []
    return list(client.search_runs(ids, filter_string="attributes.status = 'RUNNING'", max_results=_MAX_RUNNING))


def reap_orphans(client: MlflowClient, model: str) -> list[Reaped]:
    """Mark KILLED the model's RUNNING training and monitoring runs whose owner process is gone."""
    reaped = []
    for run in _running(client, model):
        owner = owner_of(run.data.tags)
        if owner is None or not owner.gone():
            continue
        client.set_tag(run.info.run_id, tags.ENDED_BY, OWNER_GONE)
        client.set_terminated(run.info.run_id, status="KILLED")
        reaped.append(Reaped(run.info.run_id, owner))
    return reaped
