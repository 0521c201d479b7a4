"""The run history: one MLflow run per pipeline run, in the experiment ``<model>-runs``.

MLflow is the system of record, so the history survives restarts, and the schedulers of every
stand write it into one tracking store — the history's stand (``scheduler.history_env``, by
default the first stage's; the composition root opens it) — so `conveyor runs` on any stand
(and anyone with the MLflow UI or client) sees the same runs. A history run's tags say which
stand's scheduler ran it (``conveyor.env``), which pipeline ran, why (``schedule``,
``catch-up``, ``drift``; ``airflow``: a task of an exported DAG, `airflow_tasks.py`), for which
cron slot, with what
status, after how many attempts, and which MLflow run the job itself made; its start and end
times are the scheduler's clock; its artifact ``log.txt`` holds the steps and each attempt's
result. The latest slot recorded for a pipeline on a stand — whatever its status — is the
one that stand's scheduler has handled: a slot is never run twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.scheduling.slots import format_slot, parse_slot
from conveyor.stack.processes import ProcessId
from conveyor.stack.tracking import next_page

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

EXPERIMENT_SUFFIX = "-runs"
LOG_FILE = "log.txt"
RUNNING = "running"
SUCCEEDED = "succeeded"
REJECTED = "rejected"  # the gate refused the candidate: an outcome, not retried
FAILED = "failed"
INTERRUPTED = "interrupted"  # the scheduler was stopped (SIGTERM, Ctrl-C) during the run
KILLED = "killed"  # the scheduler died during the run; the next one marked it
SKIPPED = "skipped"  # missed slots the catch-up policy did not run
AIRFLOW = "airflow"  # the trigger of an entry an Airflow task's job wrote
MLFLOW_STATUS = {
    SUCCEEDED: "FINISHED", REJECTED: "FINISHED", SKIPPED: "FINISHED", FAILED: "FAILED",
    INTERRUPTED: "KILLED", KILLED: "KILLED",
}
_MAX_RUNNING = 1000


@dataclass(frozen=True)
class Entry:
    """One pipeline run as the history holds it."""

    run_id: str
    env: str
    pipeline: str
    trigger: str
    slot: str
    status: str
    start: datetime
    end: datetime | None
    attempts: int
    job_run_id: str | None
    detail: str
    log: str | None
    owner: ProcessId | None

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else round((self.end - self.start).total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("owner")
        data.update(start=self.start.isoformat(), end=None if self.end is None else self.end.isoformat(),
                    duration_s=self.duration_s)
        return data

    @classmethod
    def of(cls, run: Run) -> Entry:
        t = run.data.tags
        end = run.info.end_time
        try:
            owner: ProcessId | None = ProcessId(t[tags.OWNER_HOST], int(t[tags.OWNER_PID]), t.get(tags.OWNER_STARTED, ""))
        except (KeyError, ValueError):
            owner = None
        return cls(
            run_id=run.info.run_id,
            env=t.get(tags.ENVIRONMENT, "default"),
            pipeline=t.get(tags.RUN_PIPELINE, "?"),
            trigger=t.get(tags.RUN_TRIGGER, "?"),
            slot=t.get(tags.RUN_SLOT, ""),
            status=t.get(tags.RUN_STATUS, "?"),
            start=_time(run.info.start_time),
            end=None if end is None or t.get(tags.RUN_STATUS) == RUNNING else _time(end),  # a retried one
            attempts=int(t.get(tags.RUN_ATTEMPTS, "0") or 0),
            job_run_id=t.get(tags.RUN_JOB_RUN_ID),
            detail=t.get(tags.RUN_DETAIL, ""),
            log=f"{run.info.artifact_uri.rstrip('/')}/{LOG_FILE}" if t.get(tags.RUN_STATUS) != RUNNING
            and t.get(tags.RUN_STATUS) != SKIPPED else None,
            owner=owner,
        )


class RunHistory:
    """The history of one model's pipeline runs, as the scheduler of stand ``env`` writes it
    (into the history stand's ``client``) and anyone reads it (every stand's entries)."""

    def __init__(self, client: MlflowClient, model: str, artifact_root: str, env: str | None) -> None:
        self.client = client
        self.model = model
        self.artifact_root = artifact_root
        self.env = env

    @property
    def stand(self) -> str:
        """The environment the scheduler runs in, as the tag names it."""
        return self.env or "default"

    @property
    def _here(self) -> str:
        return f"tags.`{tags.ENVIRONMENT}` = '{self.stand}'"

    @property
    def experiment_name(self) -> str:
        return f"{self.model}{EXPERIMENT_SUFFIX}"

    @cached_property
    def experiment_id(self) -> str:
        from conveyor.stack.tracking import ensure_experiment

        return ensure_experiment(self.client, self.experiment_name, self.artifact_root)

    # -- what the scheduler has handled -----------------------------------------------

    def since(self, now: datetime) -> datetime:
        """When a scheduler first ran this model on this stand (set to ``now`` the first
        time): slots before it were never the scheduler's to run."""
        experiment = self.client.get_experiment(self.experiment_id)
        key = f"{tags.SCHEDULER_SINCE}.{self.stand}"
        found = experiment.tags.get(key)
        if found:
            return datetime.fromisoformat(found)
        self.client.set_experiment_tag(self.experiment_id, key, now.astimezone(UTC).isoformat())
        return now.astimezone(UTC)

    def last_slot(self, pipeline: str) -> datetime | None:
        """The latest slot recorded for ``pipeline`` on this stand (run, failed, killed or
        skipped)."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{tags.RUN_PIPELINE}` = '{pipeline}' and {self._here}",
            order_by=[f"tags.`{tags.RUN_SLOT}` DESC"], max_results=1,
        )
        slot = runs[0].data.tags.get(tags.RUN_SLOT) if runs else None
        return parse_slot(slot) if slot else None

    # -- writing ------------------------------------------------------------------------

    def start(self, pipeline: str, trigger: str, slot: datetime, now: datetime,
              extra: dict[str, str] | None = None) -> str:
        """A new RUNNING history run owned by this process (``extra``: more tags); its id."""
        from conveyor.lifecycle.orphans import owner_tags

        run = self.client.create_run(
            self.experiment_id, start_time=_ms(now), run_name=f"{pipeline} {format_slot(slot)}",
            tags={
                tags.MODEL: self.model, tags.ENVIRONMENT: self.stand, tags.RUN_PIPELINE: pipeline,
                tags.RUN_TRIGGER: trigger, tags.RUN_SLOT: format_slot(slot), tags.RUN_STATUS: RUNNING,
                tags.RUN_ATTEMPTS: "0", **owner_tags(), **(extra or {}),
            },
        )
        return str(run.info.run_id)

    def attempt(self, run_id: str, attempts: int) -> None:
        self.client.set_tag(run_id, tags.RUN_ATTEMPTS, str(attempts))

    def progress(self, run_id: str, *, detail: str, job_run_id: str | None, log: str) -> None:
        """A run that goes on (a job of it done, more to come): RUNNING, with what came of it
        so far and its log up to now."""
        if self.client.get_run(run_id).info.status != "RUNNING":
            self.client.update_run(run_id, status="RUNNING")  # a retry after a failure
        if job_run_id:
            self.client.set_tag(run_id, tags.RUN_JOB_RUN_ID, job_run_id)
        self.client.set_tag(run_id, tags.RUN_DETAIL, detail[:4000])
        self.client.log_text(run_id, log, LOG_FILE)
        self.client.set_tag(run_id, tags.RUN_STATUS, RUNNING)

    def finish(self, run_id: str, status: str, now: datetime, *, detail: str = "",
               job_run_id: str | None = None, log: str = "") -> None:
        """Close a history run with its status, what came of it and its log."""
        if job_run_id:
            self.client.set_tag(run_id, tags.RUN_JOB_RUN_ID, job_run_id)
        self.client.set_tag(run_id, tags.RUN_DETAIL, detail[:4000])
        self.client.log_text(run_id, log, LOG_FILE)
        self.client.set_tag(run_id, tags.RUN_STATUS, status)
        self.client.set_terminated(run_id, status=MLFLOW_STATUS[status], end_time=_ms(now))

    def record_skipped(self, pipeline: str, until: datetime, now: datetime, detail: str) -> None:
        """One finished entry saying the missed slots up to ``until`` were skipped."""
        run_id = self.start(pipeline, "catch-up", until, now)
        self.client.set_tag(run_id, tags.RUN_DETAIL, detail[:4000])
        self.client.set_tag(run_id, tags.RUN_STATUS, SKIPPED)
        self.client.set_terminated(run_id, status="FINISHED", end_time=_ms(now))

    def mark_killed(self, now: datetime, keep: ProcessId) -> list[Entry]:
        """Close as ``killed`` every RUNNING entry not owned by ``keep`` (the scheduler that
        holds the project's lease now: any other that left one running is gone)."""
        # an Airflow DAG run's entry is Airflow's to end: its process is gone between tasks
        others = f"tags.`{tags.RUN_TRIGGER}` != '{AIRFLOW}'"
        runs = self.client.search_runs([self.experiment_id],
                                       filter_string=f"attributes.status = 'RUNNING' and {self._here} and {others}",
                                       max_results=_MAX_RUNNING)
        marked = []
        for run in runs:
            entry = Entry.of(run)
            if entry.owner == keep:
                continue
            holder = f"process {entry.owner.pid} on {entry.owner.host}" if entry.owner else "a scheduler"
            self.finish(run.info.run_id, KILLED, now,
                        detail=f"{holder} stopped during the run (killed or crashed); marked by the next scheduler",
                        log=f"{holder} stopped during the run; no log was written\n")
            marked.append(entry)
        return marked

    # -- reading --------------------------------------------------------------------------

    def find(self, tag: str, value: str) -> Entry | None:
        """The entry of this stand whose ``tag`` is ``value`` (None: none yet)."""
        if self.client.get_experiment_by_name(self.experiment_name) is None:
            return None
        runs = self.client.search_runs([self.experiment_id], filter_string=f"tags.`{tag}` = '{value}' and {self._here}",
                                       max_results=1)
        return Entry.of(runs[0]) if runs else None

    def entries(self, pipeline: str | None = None, limit: int = 50) -> list[Entry]:
        """The latest ``limit`` entries, newest first."""
        return self.page(pipeline, limit)[0]

    def page(self, pipeline: str | None = None, limit: int = 50,
             token: str | None = None) -> tuple[list[Entry], str | None]:
        """The next ``limit`` entries, newest first, from ``token`` (the previous page's next
        token; None: the newest), and the token of the page after (None: the last)."""
        if self.client.get_experiment_by_name(self.experiment_name) is None:
            return [], None
        where = f"tags.`{tags.RUN_PIPELINE}` = '{pipeline}'" if pipeline else ""
        runs = self.client.search_runs([self.experiment_id], filter_string=where,
                                       order_by=["attributes.start_time DESC", f"tags.`{tags.RUN_SLOT}` DESC"],
                                       max_results=limit, page_token=token)
        return [Entry.of(run) for run in runs], next_page(runs)


    def log_text(self, run_id: str) -> str | None:
        """The log of one of this model's entries (None: no such entry, or no log yet)."""
        import tempfile
        from pathlib import Path

        from mlflow.exceptions import MlflowException

        if self.client.get_experiment_by_name(self.experiment_name) is None:
            return None
        try:
            if self.client.get_run(run_id).info.experiment_id != self.experiment_id:
                return None
            with tempfile.TemporaryDirectory() as folder:
                return Path(self.client.download_artifacts(run_id, LOG_FILE, folder)).read_text(encoding="utf-8")
        except (MlflowException, OSError):
            return None


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
