"""Canary rollouts started from the dashboard: `conveyor rollout`'s own
:class:`~conveyor.serving.rollout.Rollout`, driving the server's admin API with the
viewer's token, in a thread of this process.

Its state is one JSON object in the artifact store (``serving/<model>/canary.json``): every
worker (and `conveyor ui`) shows the same rollout, and a stop asked of any of them is seen
by the one running it, which then restores the traffic and audits the stop as a rollback
step (as a regression would be).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import ConveyorError, OptionError
from conveyor.serving.errors import Conflict, InvalidInput
from conveyor.stack.processes import ProcessId

if TYPE_CHECKING:
    from conveyor.core.config.schema import RolloutSpec
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.stack.artifacts import ArtifactStore

log = logging.getLogger("conveyor.dashboard")

RUNNING = "running"
POLL_S = 1.0  # how often a running rollout looks for a stop asked elsewhere


class Canaries:
    def __init__(self, artifacts: ArtifactStore, audit: AuditLog, spec: RolloutSpec,
                 environment: str | None = None) -> None:
        self.artifacts = artifacts
        self.audit = audit
        self.spec = spec
        self.environment = environment
        self.threads: dict[str, threading.Thread] = {}

    def state(self, model: str) -> dict[str, Any] | None:
        """The latest rollout's state; one left running by a process that is gone (a server
        stopped mid-rollout) reads as ``interrupted``."""
        path = _path(model)
        if not self.artifacts.exists(path):
            return None
        state: dict[str, Any] = self.artifacts.read_json(path)
        if state.get("state") == RUNNING and _owner(state).gone():
            state.update(state="interrupted", reason="the process running it stopped; traffic is as it left it")
        return state

    def start(self, model: str, candidate: object, steps: object, interval: object,
              url: str, token: str | None, who: str) -> dict[str, Any]:
        """Start a rollout of ``candidate`` (a stage or vN) with `conveyor rollout`'s steps and
        interval (``10,50,100``, ``5m``); 409 while one runs."""
        from conveyor.serving.client import AdminClient
        from conveyor.serving.rollout import Rollout, parse_duration, parse_steps

        if not isinstance(candidate, str) or not candidate:
            raise InvalidInput("name the candidate deployment: a stage (staging) or a version (v7)", field="to")
        try:
            parsed_steps = parse_steps(str(steps or "10,50,100"))
            interval_s = parse_duration(str(interval or "5m"))
        except OptionError as exc:
            raise InvalidInput(exc.message, hint=exc.hint) from None
        current = self.state(model)
        if current is not None and current.get("state") == RUNNING:
            raise Conflict(f"a canary of {current.get('candidate')!r} is running for {model!r}",
                           hint="stop it first")
        state = {"state": RUNNING, "candidate": candidate, "steps": parsed_steps, "interval_s": interval_s,
                 "started_by": who, "started": _now(), "owner": asdict(ProcessId.current()),
                 "stop_requested_by": None, "reason": "", "result": None}
        self._write(model, state)
        job = Rollout(
            AdminClient(url, token), self.audit, model, candidate, steps=parsed_steps, interval_s=interval_s,
            spec=self.spec, environment=self.environment, sleep=lambda s: self._sleep(model, s),
            stopped=lambda: self._stop_reason(model),
            echo=lambda line: log.info("canary %s: %s", model, line),
        )
        thread = threading.Thread(target=self._run, args=(model, job, state), daemon=True,
                                  name=f"canary-{model}")
        self.threads[model] = thread
        thread.start()
        return state

    def stop(self, model: str, who: str) -> dict[str, Any]:
        """Ask the running rollout to stop (it restores the traffic); 409 if none runs."""
        state = self.state(model)
        if state is None or state.get("state") != RUNNING:
            raise Conflict(f"no canary is running for {model!r}")
        state["stop_requested_by"] = who
        self._write(model, state)
        return state

    def _run(self, model: str, job: Any, state: dict[str, Any]) -> None:
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


def _owner(state: dict[str, Any]) -> ProcessId:
    owner = state.get("owner") or {}
    return ProcessId(str(owner.get("host", "")), int(owner.get("pid", 0)), str(owner.get("started", "")))


def _path(model: str) -> str:
    return f"serving/{model}/canary.json"


def _now() -> str:
    return datetime.now(UTC).isoformat()
