"""The embedded scheduler (`conveyor scheduler`): every scheduled pipeline of a project on
its cron slots, one run per pipeline at a time, with catch-up, retries and leases; the run
history in MLflow (`conveyor runs`).

Modules: slots.py (cron slots and the catch-up plan, pure), clock.py (injectable time),
pipelines.py (which jobs a pipeline runs), history.py (MLflow runs in ``<model>-runs``),
log.py (a run's log), scheduler.py (the loop), airflow_tasks.py (an exported DAG's task
recorded in the same history). Above ``jobs/``, below the composition root.
"""

from conveyor.scheduling.clock import Clock, ManualClock, SystemClock
from conveyor.scheduling.history import Entry, RunHistory
from conveyor.scheduling.scheduler import Outcome, Scheduler, SchedulerContext

__all__ = [
    "Clock",
    "Entry",
    "ManualClock",
    "Outcome",
    "RunHistory",
    "Scheduler",
    "SchedulerContext",
    "SystemClock",
]
