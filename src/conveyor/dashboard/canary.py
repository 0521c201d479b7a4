"""Canary rollouts started from the dashboard: `conveyor rollout`'s own
:class:`~conveyor.serving.rollout.Rollout`, driving the server's admin API with the
viewer's token, in a thread of this process.

Its state is one JSON object in the artifact store (``serving/<model>/canary.json``): every
worker (and `conveyor ui`) shows the same rollout, and a stop asked of any of them is seen
by the one running it, which then restores the traffic and audits the stop as a rollback
step (as a regression would be).

A rollout whose process is gone (the worker restarted mid-rollout) reads ``interrupted``:
traffic is as it left it, and the state says so. From there it is either stopped — the
weights from before its start restored at once, the stop audited as a rollback — or
resumed: a new rollout from the step it was at (the candidate's weight now), with the
same interval, restoring the weights from before the first start on a regression.

Starting, resuming and stopping an interrupted rollout each take the model's canary lease
(``leases/canary/<model>.lease``, :mod:`conveyor.stack.leases`) first, and a running rollout
holds it, renewed, until it ends: two workers asked to resume the same rollout at one moment
cannot both run it (the second answers 409 naming the holder). A lease whose process is gone
is taken over at once on its host, after ``LEASE_S`` elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import AdminError, ConveyorError, LeaseHeld, OptionError
from conveyor.lifecycle.audit import AuditEvent
from conveyor.serving.errors import BadGateway, Conflict, InvalidInput
from conveyor.stack.leases import Lease, Leases
from conveyor.stack.locks import Heartbeat
from conveyor.stack.processes import ProcessId

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.core.config.schema import RolloutSpec
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.serving.client import AdminClient
    from conveyor.stack.artifacts import ArtifactStore

log = logging.getLogger("conveyor.dashboard")

RUNNING = "running"
INTERRUPTED = "interrupted"  # running, by a process that is gone
POLL_S = 1.0  # how often a running rollout looks for a stop asked elsewhere
LEASE_S = 60.0  # the canary lease's length; renewed every third of it while a rollout runs


class Canaries:
    def __init__(self, artifacts: ArtifactStore, audit: AuditLog, spec: RolloutSpec,
                 environment: str | None = None) -> None:
        self.artifacts = artifacts
        self.audit = audit
        self.spec = spec
        self.environment = environment
        self.leases = Leases(artifacts.root)
        self.threads: dict[str, threading.Thread] = {}

    def state(self, model: str) -> dict[str, Any] | None:
        """The latest rollout's state; one left running by a process that is gone (a server
        stopped mid-rollout) reads as ``interrupted``."""
        path = _path(model)
        if not self.artifacts.exists(path):
            return None
        state: dict[str, Any] = self.artifacts.read_json(path)
        if state.get("state") == RUNNING and _owner(state).gone():
            state.update(state=INTERRUPTED, reason="the process running it stopped; traffic is as it left it "
                         "— resume it, or stop it to restore the weights from before it")
        return state

    def start(self, model: str, candidate: object, steps: object, interval: object,
              url: str, token: str | None, who: str) -> dict[str, Any]:
        """Start a rollout of ``candidate`` (a stage or vN) with `conveyor rollout`'s steps and
        interval (``10,50,100``, ``5m``); 409 while one runs."""
        from conveyor.serving.rollout import parse_duration, parse_steps

        if not isinstance(candidate, str) or not candidate:
            raise InvalidInput("name the candidate deployment: a stage (staging) or a version (v7)", field="to")
        try:
            parsed_steps = parse_steps(str(steps or "10,50,100"))
            interval_s = parse_duration(str(interval or "5m"))
        except OptionError as exc:
            raise InvalidInput(exc.message, hint=exc.hint) from None
        lease = self._claim(model)
        try:
            current = self.state(model)
            if current is not None and current.get("state") == RUNNING:
                raise Conflict(f"a canary of {current.get('candidate')!r} is running for {model!r}",
                               hint="stop it first")
            before = _admin(url, token, lambda client: client.status(model))["weights"]
            state = {"state": RUNNING, "candidate": candidate, "steps": parsed_steps, "interval_s": interval_s,
                     "started_by": who, "started": _now(), "owner": asdict(ProcessId.current()),
                     "weights_before": before, "stop_requested_by": None, "reason": "", "result": None}
            return self._launch(model, state, parsed_steps, url, token, lease)
        except BaseException:
            lease.release()
            raise

    def resume(self, model: str, url: str, token: str | None, who: str) -> dict[str, Any]:
        """Go on with an interrupted rollout from the step it was at; 409 if none is (or
        another worker is resuming it this moment)."""
        lease = self._claim(model)
        try:
            state = self._interrupted(model, "resume")
            candidate = str(state["candidate"])
            weight = float(_admin(url, token, lambda client: client.status(model))["weights"].get(candidate, 0.0))
            steps = [float(s) for s in state.get("steps") or []]
            remaining = [s for s in steps if s >= weight] or steps[-1:]
            state.update(state=RUNNING, owner=asdict(ProcessId.current()), resumed_by=who, resumed=_now(),
                         remaining=remaining, stop_requested_by=None,
                         reason=f"resumed at {remaining[0]:g}% by {who}")
            return self._launch(model, state, remaining, url, token, lease)
        except BaseException:
            lease.release()
            raise

    def stop(self, model: str, who: str, url: str | None = None, token: str | None = None) -> dict[str, Any]:
        """Ask the running rollout to stop (it restores the traffic); an interrupted one is
        stopped here: the weights from before its start restored, the stop audited. 409 if
        there is neither."""
        state = self.state(model)
        if state is not None and state.get("state") == RUNNING:
            state["stop_requested_by"] = who
            self._write(model, state)
            return state
        if state is None or state.get("state") != INTERRUPTED or url is None:
            raise Conflict(f"no canary is running for {model!r}")
        lease = self._claim(model)
        try:
            state = self._interrupted(model, "stop")
            before = dict(state["weights_before"])
            _admin(url, token, lambda client: client.set_weights(model, before))
            reason = f"stopped: by {who} (its process had stopped); traffic restored to {before}"
            self.audit.append(AuditEvent(action="rollout-rollback", model=model, stage=str(state["candidate"]),
                                         from_version=None, to_version=None, reason=reason,
                                         environment=self.environment))
            state.update(state="stopped", reason=reason, stop_requested_by=who, ended=_now())
            self._write(model, state)
            return state
        finally:
            lease.release()

    def _claim(self, model: str) -> Lease:
        """The model's canary lease; 409 while another process (or request) holds it."""
        try:
            return self.leases.acquire(f"canary/{model}", datetime.now(UTC), LEASE_S, f"a canary of {model}")
        except LeaseHeld as held:
            raise Conflict(f"a canary of {model!r} is being started, resumed or run by {held.description}",
                           hint="stop it first, or look again in a moment") from None

    def _interrupted(self, model: str, what: str) -> dict[str, Any]:
        """The interrupted rollout's state, read as stored (409: none, or one stored before
        the weights it started from were)."""
        state = self.state(model)
        if state is None or state.get("state") != INTERRUPTED:
            raise Conflict(f"no interrupted canary of {model!r} to {what}",
                           hint="a running one is stopped with DELETE; start a new one with POST")
        if not isinstance(state.get("weights_before"), dict):
            raise Conflict(f"the interrupted canary of {model!r} does not say the weights it started from",
                           hint="set the traffic with the weights form, then start a new canary")
        stored: dict[str, Any] = self.artifacts.read_json(_path(model))
        return stored

    def _launch(self, model: str, state: dict[str, Any], steps: list[float], url: str,
                token: str | None, lease: Lease) -> dict[str, Any]:
        """Write the running state and run the rollout in a thread of this process, which
        holds ``lease`` (renewed) until the rollout ends."""
        from conveyor.serving.client import AdminClient
        from conveyor.serving.rollout import Rollout

        self._write(model, state)
        job = Rollout(
            AdminClient(url, token), self.audit, model, str(state["candidate"]), steps=steps,
            interval_s=float(state["interval_s"]), spec=self.spec, environment=self.environment,
            sleep=lambda s: self._sleep(model, s), stopped=lambda: self._stop_reason(model),
            echo=lambda line: log.info("canary %s: %s", model, line),
            restore={str(k): float(v) for k, v in dict(state["weights_before"]).items()},
        )
        thread = threading.Thread(target=self._run, args=(model, job, state, lease), daemon=True,
                                  name=f"canary-{model}")
        self.threads[model] = thread
        thread.start()
        return state

    def _run(self, model: str, job: Any, state: dict[str, Any], lease: Lease) -> None:
        heartbeat = Heartbeat(lambda: lease.renew(datetime.now(UTC), LEASE_S), LEASE_S / 3,
                              lambda exc: log.warning("canary %s: could not renew its lease: %s", model, exc),
                              name=f"canary-{model}-lease")
        heartbeat.start()
        try:
            self._rollout(model, job, state)
        finally:
            heartbeat.stop(timeout_s=5)
            lease.release()

    def _rollout(self, model: str, job: Any, state: dict[str, Any]) -> None:
        try:
            result = job.run()
            state["result"] = result.to_dict()
            state["reason"] = result.reason
            state["state"] = "completed" if result.completed else (
                "stopped" if result.reason.startswith("stopped") else "rolled back")
        except ConveyorError as exc:
            state["state"], state["reason"] = "failed", exc.message
        except Exception as exc:
            log.exception("canary of %s failed", model)
            state["state"], state["reason"] = "failed", f"{type(exc).__name__}: {exc}"
        state["ended"] = _now()
        state["stop_requested_by"] = (self.state(model) or {}).get("stop_requested_by")
        self._write(model, state)

    def _stop_reason(self, model: str) -> str | None:
        who = (self.state(model) or {}).get("stop_requested_by")
        return None if not who else f"by {who}"

    def _sleep(self, model: str, seconds: float) -> None:
        """The step's wait, cut short when a stop is asked."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop_reason(model) is not None:
                return
            time.sleep(min(POLL_S, left))

    def _write(self, model: str, state: dict[str, Any]) -> None:
        self.artifacts.replace_json(_path(model), state)


def _admin(url: str, token: str | None, call: Callable[[AdminClient], dict[str, Any]]) -> dict[str, Any]:
    """One call to the server's admin API; 502 when it refuses or cannot be reached."""
    from conveyor.serving.client import AdminClient

    try:
        return call(AdminClient(url, token))
    except AdminError as exc:
        raise BadGateway(exc.message, hint=exc.hint) from None


def _owner(state: dict[str, Any]) -> ProcessId:
    owner = state.get("owner") or {}
    return ProcessId(str(owner.get("host", "")), int(owner.get("pid", 0)), str(owner.get("started", "")))


def _path(model: str) -> str:
    return f"serving/{model}/canary.json"


def _now() -> str:
    return datetime.now(UTC).isoformat()
