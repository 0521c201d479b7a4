"""The embedded scheduler: each scheduled pipeline on its cron slots, the pipelines side by
side, one run of each at a time.

:meth:`Scheduler.start` takes the project's lease (a second scheduler on the same project
and stand is refused with :class:`SchedulerBusyError`, or waits for it with ``wait``) and
marks ``killed`` the history entries a crashed scheduler left running. :meth:`launch` plans
every pipeline's due slots (:func:`conveyor.scheduling.slots.plan`) and starts each pipeline
that has some and is not running already on a thread of its own, so a long train never
holds up a due monitor. A pipeline's thread runs its slots one after another: the
pipeline's lease is taken (a run of the pipeline still going elsewhere makes the slot wait),
the history entry opened, each job started through :func:`conveyor.jobs.run_job` with
retries and exponential backoff, and the entry closed ``succeeded``, ``rejected`` (the gate
said no: not retried) or ``failed`` (every attempt failed; the next slot still runs); a
retrain a monitor's drift asks for runs next on the same thread, under its own lease.
:meth:`tick` launches and waits for every pipeline running; :meth:`serve` is the loop:
launch, then wait until the next slot or until a running pipeline ends. :meth:`stop` (on
SIGTERM or Ctrl-C the command's ``finally``) marks every run still going ``interrupted`` —
and the job runs this process leaves behind KILLED — then gives the leases back. A
background thread renews the leases while the scheduler lives; one a crashed scheduler left
expires after ``scheduler.lease_s``, or is taken over at once when its process on this host
is gone.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class _Worker:
    """A pipeline's thread and what came of it."""

    pipeline: str
    thread: threading.Thread | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    error: Exception | None = None


@dataclass(frozen=True)
class _OpenRun:
    """A history entry a pipeline's thread opened and has not closed yet."""

    pipeline: str
    slot: str
    log: StepLog


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
        self._since: datetime | None = None
        self._heartbeat: Heartbeat | None = None
        # shared with the pipelines' threads and the heartbeat, under _lock
        self._lock = threading.RLock()
        self._held: dict[str, Lease] = {}  # pipeline -> its lease, while it runs
        self._running: dict[str, _Worker] = {}  # pipeline -> its thread
        self._ended: list[_Worker] = []  # threads ended, their outcomes not yet collected
        self._open: dict[str, _OpenRun] = {}  # history entries opened and not yet closed
        self._changed = threading.Event()  # set when a pipeline's thread ends
        self._stopping = threading.Event()

    @property
    def model(self) -> str:
        return self.context.lifecycle.name

    @property
    def lease_name(self) -> str:
        env = self.context.lifecycle.loaded.env_name
        return f"scheduler/{self.model}" + (f".{env}" if env else "")

    @property
    def running(self) -> list[str]:
        """The pipelines running now (on their threads)."""
        with self._lock:
            return [p.name for p in self.pipelines if p.name in self._running]

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
        self._stopping.clear()
        self._heartbeat = Heartbeat(  # the leases renewed every third of their length, in real time
            self.renew, settings.lease_s / 3, lambda exc: self.notify(f"could not renew the scheduler's lease: {exc}"),
            name="conveyor-scheduler-heartbeat")
        self._heartbeat.start()
        history = self.context.history
        for entry in history.mark_killed(self.clock.now(), ProcessId.current()):
            self.notify(f"{entry.pipeline} {entry.slot}: left running by a scheduler that is gone; marked killed")
        self._since = history.since(self.clock.now())

    def stop(self, cause: BaseException | None = None) -> None:
        """Mark every run still going ``interrupted`` (its thread is left to end with the
        process) and the job runs this process leaves running KILLED, tagged with the signal
        (``cause``, default the exception being handled: SIGINT for Ctrl-C, else SIGTERM);
        then give the leases back (the heartbeat stops first)."""
        from conveyor.lifecycle.orphans import end_own_runs

        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.stop(timeout_s=5)
            self._heartbeat = None
        cause = cause if cause is not None else sys.exc_info()[1]
        signal_name = "SIGINT" if isinstance(cause, KeyboardInterrupt) else "SIGTERM"
        with self._lock:
            interrupted = list(self._open.items())
            self._open.clear()
            for run_id, run in interrupted:
                run.log.info("the scheduler was stopped during the run")
                try:
                    self.context.history.finish(
                        run_id, status.INTERRUPTED, self.clock.now(), log=run.log.text(),
                        detail="the scheduler was stopped (SIGTERM or Ctrl-C) during the run")
                except Exception as exc:  # noqa: BLE001 - the next scheduler marks it killed
                    self.notify(f"{run.pipeline}: could not mark its run interrupted: {exc}")
                self.notify(f"{run.pipeline} {run.slot}: interrupted")
            leases = [*self._held.values(), *([self._lease] if self._lease else [])]
            self._held.clear()
            self._lease = None
        if interrupted:
            try:
                end_own_runs(self.context.lifecycle.client, self.model, signal_name)
            except Exception as exc:  # noqa: BLE001 - the next command reaps them (owner gone)
                self.notify(f"could not mark the interrupted jobs' runs: {exc}")
        for lease in leases:
            lease.release()

    def serve(self, once: bool = False) -> None:
        """Launch what is due, then wait until the next slot or until a running pipeline
        ends (renewing the leases meanwhile); with ``once``, a single :meth:`tick`. The
        caller stops it (SIGTERM as an exit, Ctrl-C) and calls :meth:`stop`."""
        if once:
            self.tick()
            return
        while True:
            try:
                self.launch()
            except SchedulerBusyError:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. the tracking store away for a while
                self.notify(f"this round stopped early: {type(exc).__name__}: {exc}; the next one tries again")
            for ended in self._collect():
                if ended.error is not None:
                    self.notify(f"this round stopped early: {ended.pipeline}: {type(ended.error).__name__}: "
                                f"{ended.error}; the next one tries again")
            self._idle()

    def wait_s(self) -> float:
        """Seconds until the next slot of any pipeline (at most a minute: the loop re-plans)."""
        now = self.clock.now()
        zone = self.context.settings.timezone
        soonest = min((next_slot(p.cron, zone, now) for p in self.pipelines), default=None)
        return 60.0 if soonest is None else max(0.0, min(60.0, (soonest - now).total_seconds()))

    def _idle(self) -> None:
        """Wait :meth:`wait_s`, or less when a running pipeline ends first."""
        seconds = self.wait_s()
        self._changed.clear()
        if self.running:
            self.clock.wait(self._changed, seconds)
        else:
            self.clock.sleep(seconds)

    # -- one round ------------------------------------------------------------------------

    def tick(self) -> list[Outcome]:
        """Run every due slot of every pipeline (each slot once), the pipelines side by
        side, and wait for every pipeline running; what came of each, in the pipelines'
        order. An error of the scheduler's own (a store away) is raised once all ended."""
        self.launch()
        self.join()
        ended = self._collect()
        for worker in ended:
            if worker.error is not None:
                raise worker.error
        return [outcome for worker in ended for outcome in worker.outcomes]

    def launch(self) -> list[str]:
        """Start, each on its own thread, the pipelines that have due slots and are not
        running already; their names."""
        if self._lease is None:
            raise RuntimeError("start() the scheduler first")
        if (self._heartbeat is not None and self._heartbeat.lost) or not self.renew():
            raise SchedulerBusyError(
                f"the scheduler's lease on {self.model} was taken over by another scheduler "
                "(this one did not renew it in time); stopping",
                hint="run one scheduler per project and stand; raise scheduler.lease_s if steps stall it",
            )
        started = []
        for pipeline in self.pipelines:
            if pipeline.name in self.running:
                continue  # at most one run per pipeline: its due slots wait until it ends
            slots = self._due(pipeline)
            if not slots:
                continue
            worker = _Worker(pipeline.name)
            worker.thread = threading.Thread(target=self._work, args=(worker, slots), daemon=True,
                                             name=f"conveyor-scheduler-{pipeline.name}")
            with self._lock:
                self._running[pipeline.name] = worker
            worker.thread.start()
            started.append(pipeline.name)
        return started

    def join(self) -> None:
        """Wait until no pipeline runs (a signal still interrupts the wait)."""
        while True:
            with self._lock:
                workers = list(self._running.values())
            if not workers:
                return
            for worker in workers:
                if worker.thread is not None:
                    worker.thread.join()

    def _collect(self) -> list[_Worker]:
        """The threads that ended since the last call, in the pipelines' order."""
        order = {p.name: i for i, p in enumerate(self.pipelines)}
        with self._lock:
            ended, self._ended = self._ended, []
        return sorted(ended, key=lambda w: order.get(w.pipeline, len(order)))

    def _due(self, pipeline: Pipeline) -> list[Slot]:
        """The pipeline's slots to run now (the missed ones the policy skips recorded)."""
        settings = self.context.settings
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
        return due.run

    def _work(self, worker: _Worker, slots: list[Slot]) -> None:
        """A pipeline's thread: its due slots, oldest first."""
        try:
            for slot in slots:
                if self._stopping.is_set():
                    return
                spec = first_spec(worker.pipeline, slot, self.context.lifecycle.loaded)
                done = self._run(worker.pipeline, slot, spec)
                if done is None:
                    return  # the pipeline runs elsewhere: its slots wait for the next round
                worker.outcomes.extend(done)
        except Exception as exc:  # noqa: BLE001 - the scheduler's own step (a store): the caller says it
            worker.error = exc
        finally:
            with self._lock:
                self._running.pop(worker.pipeline, None)
                self._ended.append(worker)
            self._changed.set()

    def _run(self, pipeline: str, slot: Slot, spec: AnySpec) -> list[Outcome] | None:
        """One pipeline run under its lease, recorded in the history (None: the lease is
        held by a run still going elsewhere, or the scheduler is stopping)."""
        settings = self.context.settings
        history = self.context.history
        try:
            lease = self.context.leases.acquire(
                f"{self.lease_name}/{pipeline}", self.clock.now(), settings.lease_s, f"the {pipeline} pipeline"
            )
        except LeaseHeld as held:
            self.notify(f"{pipeline} {slot.key}: {held.description} is still running; the slot waits")
            return None
        try:
            with self._lock:
                if self._stopping.is_set():
                    return None
                self._held[pipeline] = lease
                run_id = history.start(pipeline, slot.trigger, slot.at, self.clock.now())
                log = StepLog(self.clock)
                self._open[run_id] = _OpenRun(pipeline, slot.key, log)
            log.info(f"{pipeline} for slot {slot.key} ({slot.trigger})")
            try:
                steps = self._steps(spec, run_id, log)
            except Exception as exc:  # noqa: BLE001 - the scheduler's own step failed (a store): recorded
                steps = _Steps(status.FAILED, f"the scheduler could not run it: {type(exc).__name__}: {exc}")
                log.info(steps.detail)
            with self._lock:
                if self._open.pop(run_id, None) is None:
                    return None  # stop() marked it interrupted meanwhile
                history.finish(run_id, steps.status, self.clock.now(), detail=steps.detail,
                               job_run_id=steps.job_run_id, log=log.text())
        finally:
            with self._lock:
                if self._held.get(pipeline) is lease:
                    del self._held[pipeline]
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
            if self._stopping.is_set():  # stop() has marked the run interrupted
                return _Steps(status.INTERRUPTED, "the scheduler was stopped during the run")
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
            if result.ok or rejected(spec, result) or attempt > settings.retries or self._stopping.is_set():
                return result
            wait = settings.backoff_s * 2 ** (attempt - 1)
            log.info(f"{spec.kind} failed; retrying in {wait:g}s")
            self.clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def renew(self) -> bool:
        """Renew every lease held now; False if the project's lease was lost."""
        now, ttl = self.clock.now(), self.context.settings.lease_s
        with self._lock:
            held, project = list(self._held.values()), self._lease
        for lease in held:
            lease.renew(now, ttl)
        return project is None or project.renew(now, ttl)
