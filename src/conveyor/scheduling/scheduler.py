"""The embedded scheduler: each scheduled pipeline on its cron slots, one run at a time.

:meth:`Scheduler.start` takes the project's lease (a second scheduler on the same project
and stand is refused with :class:`SchedulerBusyError`, or waits for it with ``wait``) and
marks ``killed`` the history entries a crashed scheduler left running. :meth:`tick` plans
every pipeline's due slots (:func:`conveyor.scheduling.slots.plan`) and runs them: the
pipeline's lease is taken (a run of the pipeline still going elsewhere makes the slot wait),
the history entry opened, each job started through :func:`conveyor.jobs.run_job` with
retries and exponential backoff, and the entry closed ``succeeded``, ``rejected`` (the gate
said no: not retried), ``failed`` (every attempt failed; the next slot still runs) or
``interrupted`` (SIGTERM or Ctrl-C during the run, which then ends the scheduler).
:meth:`serve` is the loop: tick, then wait until the next slot. A background thread renews
the leases while the scheduler lives; one a crashed scheduler left expires after
``scheduler.lease_s``, or is taken over at once when its process on this host is gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import ExitCode, LeaseHeld, SchedulerBusyError
from conveyor.jobs import AnySpec, JobResult, RetrainSpec, run_job
from conveyor.scheduling import history as status
from conveyor.scheduling.clock import Clock, SystemClock
from conveyor.scheduling.log import StepLog
from conveyor.scheduling.pipelines import (
    RETRAIN,
    Pipeline,
    first_spec,
    job_run_id,
    next_spec,
    rejected,
    retrain_spec,
    scheduled,
    summary,
)
from conveyor.scheduling.slots import Slot, format_slot, next_slot, plan
from conveyor.stack.leases import Lease, Leases
from conveyor.stack.locks import Heartbeat
from conveyor.stack.processes import ProcessId

if TYPE_CHECKING:
    from conveyor.core.config.schema import SchedulerSpec
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter
    from conveyor.scheduling.history import RunHistory

JobRunner = Callable[[AnySpec, "LifecycleContext", "Reporter"], JobResult]


@dataclass(frozen=True)
class SchedulerContext:
    """What the scheduler works with (built by the composition root)."""

    lifecycle: LifecycleContext
    history: RunHistory
    leases: Leases

    @property
    def settings(self) -> SchedulerSpec:
        return self.lifecycle.config.scheduler


@dataclass(frozen=True)
class Outcome:
    """One pipeline run the scheduler finished."""

    pipeline: str
    slot: str
    trigger: str
    status: str
    attempts: int
    detail: str
    run_id: str  # the history entry

    def line(self) -> str:
        return f"{self.pipeline} {self.slot} ({self.trigger}): {self.status} — {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Steps:
    """What came of a pipeline run's jobs."""

    status: str
    detail: str
    attempts: int = 0
    job_run_id: str | None = None
    retrain: RetrainSpec | None = None


class Scheduler:
    """Runs the project's scheduled pipelines (see the module docstring)."""

    def __init__(self, context: SchedulerContext, clock: Clock | None = None, *,
                 run: JobRunner = run_job, notify: Callable[[str], None] | None = None) -> None:
        self.context = context
        self.clock = clock or SystemClock()
        self.run = run
        self.notify = notify or (lambda line: None)
        self.pipelines: list[Pipeline] = scheduled(context.lifecycle.loaded)
        self._lease: Lease | None = None
        self._held: dict[str, Lease] = {}
        self._since: datetime | None = None
        self._heartbeat: Heartbeat | None = None

    @property
    def model(self) -> str:
        return self.context.lifecycle.name

    @property
    def lease_name(self) -> str:
        env = self.context.lifecycle.loaded.env_name
        return f"scheduler/{self.model}" + (f".{env}" if env else "")

    # -- life cycle ---------------------------------------------------------------------

    def start(self, wait: bool = False) -> None:
        """Take the project's lease (refused, or with ``wait`` waited for, while another
        scheduler holds it) and mark what a crashed scheduler left running."""
        settings = self.context.settings
        while self._lease is None:
            try:
                self._lease = self.context.leases.acquire(
                    self.lease_name, self.clock.now(), settings.lease_s, f"the scheduler of {self.model}"
                )
            except LeaseHeld as held:
                if not wait:
                    raise SchedulerBusyError(
                        f"another scheduler runs {self.model} here: {held.description}; "
                        "nothing was started",
                        hint="stop that one first, or pass --wait to take over when it stops",
                    ) from None
                self.notify(f"waiting for {held.description} to stop")
                self.clock.sleep(min(settings.lease_s / 3, 30.0))
        self._heartbeat = Heartbeat(  # the leases renewed every third of their length, in real time
            self.renew, settings.lease_s / 3, lambda exc: self.notify(f"could not renew the scheduler's lease: {exc}"),
            name="conveyor-scheduler-heartbeat")
        self._heartbeat.start()
        history = self.context.history
        for entry in history.mark_killed(self.clock.now(), ProcessId.current()):
            self.notify(f"{entry.pipeline} {entry.slot}: left running by a scheduler that is gone; marked killed")
        self._since = history.since(self.clock.now())

    def stop(self) -> None:
        """Give the leases back (the heartbeat stops first)."""
        if self._heartbeat is not None:
            self._heartbeat.stop(timeout_s=5)
            self._heartbeat = None
        for lease in [*self._held.values(), *([self._lease] if self._lease else [])]:
            lease.release()
        self._held.clear()
        self._lease = None

    def serve(self, once: bool = False) -> None:
        """Tick, then wait until the next slot (renewing the lease while waiting); with
        ``once``, a single tick. The caller stops it (SIGTERM as an exit, Ctrl-C)."""
        while True:
            if once:
                self.tick()
                return
            try:
                self.tick()
            except SchedulerBusyError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. the tracking store away for a while
                self.notify(f"this round stopped early: {type(exc).__name__}: {exc}; the next one tries again")
            self.clock.sleep(self.wait_s())

    def wait_s(self) -> float:
        """Seconds until the next slot of any pipeline (at most a minute: the loop re-plans)."""
        now = self.clock.now()
        zone = self.context.settings.timezone
        soonest = min((next_slot(p.cron, zone, now) for p in self.pipelines), default=None)
        return 60.0 if soonest is None else max(0.0, min(60.0, (soonest - now).total_seconds()))

    # -- one round ------------------------------------------------------------------------

    def tick(self) -> list[Outcome]:
        """Run every due slot of every pipeline (each slot once); what came of each."""
        if self._lease is None:
            raise RuntimeError("start() the scheduler first")
        if (self._heartbeat is not None and self._heartbeat.lost) or not self.renew():
            raise SchedulerBusyError(
                f"the scheduler's lease on {self.model} was taken over by another scheduler "
                "(this one did not renew it in time); stopping",
                hint="run one scheduler per project and stand; raise scheduler.lease_s if steps stall it",
            )
        outcomes: list[Outcome] = []
        settings = self.context.settings
        for pipeline in self.pipelines:
            handled = self.context.history.last_slot(pipeline.name) or self._since
            assert handled is not None
            due = plan(pipeline.cron, settings.timezone, handled, self.clock.now(), settings.catch_up,
                       settings.grace_s)
            if due.skipped_until is not None:
                self.context.history.record_skipped(
                    pipeline.name, due.skipped_until, self.clock.now(),
                    f"missed slots up to {format_slot(due.skipped_until)} skipped "
                    f"(scheduler.catch_up: {settings.catch_up})",
                )
            for slot in due.run:
                spec = first_spec(pipeline.name, slot, self.context.lifecycle.loaded)
                done = self._run(pipeline.name, slot, spec)
                if done is None:
                    break  # the pipeline runs elsewhere: its slots wait for the next tick
                outcomes.extend(done)
        return outcomes

    def _run(self, pipeline: str, slot: Slot, spec: AnySpec) -> list[Outcome] | None:
        """One pipeline run under its lease, recorded in the history (None: the lease is
        held by a run still going elsewhere)."""
        settings = self.context.settings
        history = self.context.history
        try:
            lease = self.context.leases.acquire(
                f"{self.lease_name}/{pipeline}", self.clock.now(), settings.lease_s, f"the {pipeline} pipeline"
            )
        except LeaseHeld as held:
            self.notify(f"{pipeline} {slot.key}: {held.description} is still running; the slot waits")
            return None
        self._held[pipeline] = lease
        try:
            run_id = history.start(pipeline, slot.trigger, slot.at, self.clock.now())
            log = StepLog(self.clock)
            log.info(f"{pipeline} for slot {slot.key} ({slot.trigger})")
            try:
                steps = self._steps(spec, run_id, log)
            except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM as an exit
                log.info("the scheduler was stopped during the run")
                history.finish(run_id, status.INTERRUPTED, self.clock.now(), log=log.text(),
                               detail="the scheduler was stopped (SIGTERM or Ctrl-C) during the run")
                raise
            except Exception as exc:  # noqa: BLE001 - the scheduler's own step failed (a store): recorded
                steps = _Steps(status.FAILED, f"the scheduler could not run it: {type(exc).__name__}: {exc}")
                log.info(steps.detail)
            history.finish(run_id, steps.status, self.clock.now(), detail=steps.detail,
                           job_run_id=steps.job_run_id, log=log.text())
        finally:
            self._held.pop(pipeline, None)
            lease.release()
        outcome = Outcome(pipeline, slot.key, slot.trigger, steps.status, steps.attempts, steps.detail, run_id)
        self.notify(outcome.line())
        outcomes = [outcome]
        if steps.retrain is not None:
            more = self._run(RETRAIN, Slot(slot.at, "drift"), steps.retrain)
            outcomes.extend(more or [])
        return outcomes

    def _steps(self, spec: AnySpec, run_id: str, log: StepLog) -> _Steps:
        """The pipeline's jobs, one after another, each with its retries."""
        steps = _Steps(status.SUCCEEDED, "")
        current: AnySpec | None = spec
        while current is not None:
            result = self._attempts(current, run_id, log, steps)
            steps.job_run_id = job_run_id(current, result) or steps.job_run_id
            if not result.ok:
                steps.status = status.REJECTED if rejected(current, result) else status.FAILED
                steps.detail = f"{current.kind}: {result.error or 'failed'}" + (
                    "" if steps.status == status.REJECTED else f" (after {steps.attempts} attempt(s))")
                if isinstance(current, RetrainSpec):
                    steps.detail = f"{current.kind}: {result.result.get('detail') or result.error}"
                return steps
            steps.detail = summary(current, result)
            steps.retrain = retrain_spec(current, result)
            current = next_spec(current, result)
        return steps

    def _attempts(self, spec: AnySpec, run_id: str, log: StepLog, steps: _Steps) -> JobResult:
        """Run one job until it succeeds, ends in a verdict, or has used its retries."""
        settings = self.context.settings
        for attempt in range(1, settings.retries + 2):
            steps.attempts += 1
            self.context.history.attempt(run_id, steps.attempts)
            log.info(f"{spec.kind}: attempt {attempt} of {settings.retries + 1}")
            try:
                result = self.run(spec, self.context.lifecycle, log)
            except Exception as exc:  # noqa: BLE001 - a bug or an error outside the tree: the attempt failed
                result = JobResult(spec.kind, ExitCode.FAILED, error=f"{type(exc).__name__}: {exc}")
            log.info(json.dumps(result.to_dict(), default=str))
            if result.ok or rejected(spec, result) or attempt > settings.retries:
                return result
            wait = settings.backoff_s * 2 ** (attempt - 1)
            log.info(f"{spec.kind} failed; retrying in {wait:g}s")
            self.clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def renew(self) -> bool:
        """Renew every lease held now; False if the project's lease was lost."""
        now, ttl = self.clock.now(), self.context.settings.lease_s
        for lease in list(self._held.values()):
            lease.renew(now, ttl)
        return self._lease is None or self._lease.renew(now, ttl)
