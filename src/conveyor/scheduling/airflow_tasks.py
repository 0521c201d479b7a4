"""An Airflow task's job in the run history the scheduler writes.

Each task of a DAG `conveyor export airflow` writes runs one `conveyor job run`. Airflow's
task runner puts the task's context in its environment (``AIRFLOW_CTX_DAG_ID``,
``AIRFLOW_CTX_DAG_RUN_ID``, ``AIRFLOW_CTX_TASK_ID``, ``AIRFLOW_CTX_TRY_NUMBER``,
``AIRFLOW_CTX_LOGICAL_DATE``), which the job's process inherits; with it, the job is
recorded in :class:`~conveyor.scheduling.history.RunHistory` with trigger ``airflow``: one
entry per DAG run, found again by its later tasks through its ``conveyor.run.airflow`` tag
(``<dag_id>/<dag_run_id>``).

The entry is ``running`` while its pipeline has jobs to come (train → gate → promote),
``succeeded`` after the last, ``rejected`` when the gate refused the version, ``failed``
when a job failed (a retry of the task makes it ``running`` again; its attempts are the
task's try number). Its log holds each task's result line, one after another.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from conveyor.core import tags
from conveyor.scheduling import history as status
from conveyor.scheduling.clock import Clock, SystemClock
from conveyor.scheduling.pipelines import job_run_id, rejected, summary

if TYPE_CHECKING:
    from conveyor.jobs import AnySpec, JobResult
    from conveyor.scheduling.history import RunHistory

log = logging.getLogger("conveyor")

PIPELINE_OF = {"train": "train", "gate": "train", "promote": "train", "score": "batch",
               "monitor": "monitor", "retrain": "retrain"}  # the job kinds the exported DAGs run
LAST_JOB = {"train": "promote", "batch": "score", "monitor": "monitor", "retrain": "retrain"}


@dataclass(frozen=True)
class AirflowTask:
    """The Airflow task this process runs for (from its ``AIRFLOW_CTX_*`` variables)."""

    dag_id: str
    dag_run_id: str
    task_id: str
    try_number: int
    logical_date: datetime | None  # None: a run with no logical date (an Asset's event)

    @property
    def key(self) -> str:
        return f"{self.dag_id}/{self.dag_run_id}"

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> AirflowTask | None:
        """The task, or None outside Airflow (or with a context it cannot be looked up by)."""
        env = os.environ if environ is None else environ
        dag_id, run_id = env.get("AIRFLOW_CTX_DAG_ID", ""), env.get("AIRFLOW_CTX_DAG_RUN_ID", "")
        if not dag_id or not run_id or "'" in dag_id + run_id:  # the key goes into a filter string
            return None
        try:
            logical: datetime | None = datetime.fromisoformat(env.get("AIRFLOW_CTX_LOGICAL_DATE", ""))
        except ValueError:
            logical = None
        tries = env.get("AIRFLOW_CTX_TRY_NUMBER", "")
        return cls(dag_id, run_id, env.get("AIRFLOW_CTX_TASK_ID", "") or "?",
                   int(tries) if tries.isdigit() else 1, logical)


def run_recorded(history: RunHistory, task: AirflowTask, spec: AnySpec, run: Callable[[], JobResult],
                 clock: Clock | None = None) -> JobResult:
    """Run the job and record it in its DAG run's history entry. A job no exported DAG runs
    is only run; the history failing to record is said on the log and the job runs anyway."""
    pipeline = PIPELINE_OF.get(spec.kind)
    if pipeline is None:
        return run()
    clock = clock or SystemClock()
    try:
        run_id, earlier = _open(history, task, pipeline, clock)
    except Exception as exc:  # noqa: BLE001 - the history is a record: the job still runs
        log.warning("the run history could not record %s: %s: %s", task.key, type(exc).__name__, exc)
        return run()
    lines = f"{earlier}{clock.now():%Y-%m-%d %H:%M:%S} {task.task_id} (try {task.try_number}): {spec.kind}\n"
    result = run()
    lines += f"{clock.now():%Y-%m-%d %H:%M:%S} {json.dumps(result.to_dict(), default=str)}\n"
    try:
        _close(history, run_id, spec, result, pipeline, lines, task, clock)
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("the run history could not record %s: %s: %s", task.key, type(exc).__name__, exc)
    return result


def _open(history: RunHistory, task: AirflowTask, pipeline: str, clock: Clock) -> tuple[str, str]:
    """The DAG run's entry (started by its first task), RUNNING; its id and its log so far."""
    now = clock.now()
    entry = history.find(tags.RUN_AIRFLOW, task.key)
    if entry is None:
        run_id = history.start(pipeline, status.AIRFLOW, task.logical_date or now, now,
                               extra={tags.RUN_AIRFLOW: task.key})
        earlier = f"{now:%Y-%m-%d %H:%M:%S} {pipeline}: Airflow DAG run {task.key}\n"
    else:
        run_id, earlier = entry.run_id, history.log_text(entry.run_id) or ""
    history.attempt(run_id, task.try_number)
    history.progress(run_id, detail=f"{task.task_id}: running", job_run_id=None, log=earlier)
    return run_id, earlier


def _close(history: RunHistory, run_id: str, spec: AnySpec, result: JobResult, pipeline: str,
           lines: str, task: AirflowTask, clock: Clock) -> None:
    made = job_run_id(spec, result)
    if result.ok:
        detail = f"{task.task_id}: {summary(spec, result)}"
        if spec.kind != LAST_JOB[pipeline]:
            history.progress(run_id, detail=detail, job_run_id=made, log=lines)
            return
        history.finish(run_id, status.SUCCEEDED, clock.now(), detail=detail, job_run_id=made, log=lines)
        return
    outcome = status.REJECTED if rejected(spec, result) else status.FAILED
    history.finish(run_id, outcome, clock.now(), detail=f"{task.task_id}: {result.error or 'failed'}",
                   job_run_id=made, log=lines)
