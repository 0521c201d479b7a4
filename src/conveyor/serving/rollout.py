"""Canary rollout: shift traffic to a candidate in steps, compare it with the champion
after each step, roll back automatically when it is worse. Every step is audited.

Stats come from the server's Prometheus counters (all workers), as deltas over each step:
error rate = 5xx / requests; p95 from the latency histogram buckets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import OptionError, RolloutError

if TYPE_CHECKING:
    from conveyor.core.config.schema import RolloutSpec
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.serving.client import AdminClient

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    match = _DURATION.match(text or "")
    if not match:
        raise OptionError(f"{text!r} is not a duration", hint="use 30s, 5m, 1h")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_steps(text: str) -> list[float]:
    try:
        steps = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise OptionError(f"{text!r} is not a list of percentages", hint="e.g. 10,50,100") from None
    if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(steps):
        raise OptionError(f"steps {text!r} must rise within (0, 100]", hint="e.g. 10,50,100")
    return steps


@dataclass
class SideStats:
    requests: float = 0.0
    errors: float = 0.0
    p95_s: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass
class Step:
    weight: float
    candidate: SideStats
    champion: SideStats
    ok: bool
    reason: str


@dataclass
class RolloutResult:
    model: str
    candidate: str
    champion: str
    candidate_version: str | None
    champion_version: str | None
    completed: bool
    rolled_back: bool
    steps: list[Step] = field(default_factory=list)
    reason: str = ""
    promoted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Snapshot:
    """Counters and latency buckets per deployment at one moment."""

    def __init__(self, text: str, model: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.requests: dict[str, float] = {}
        self.errors: dict[str, float] = {}
        self.buckets: dict[str, dict[float, float]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if labels.get("model") != model:
                    continue
                dep = labels.get("deployment", "")
                if sample.name == "conveyor_requests_total":
                    code = int(labels.get("code", "0"))
                    if code >= 500 or code < 400:  # client errors say nothing about the model
                        self.requests[dep] = self.requests.get(dep, 0.0) + sample.value
                    if code >= 500 and code not in (503,):
                        self.errors[dep] = self.errors.get(dep, 0.0) + sample.value
                elif sample.name == "conveyor_request_latency_seconds_bucket":
                    le = float(labels["le"])
                    self.buckets.setdefault(dep, {})[le] = sample.value

    def since(self, before: Snapshot, dep: str) -> SideStats:
        requests = self.requests.get(dep, 0.0) - before.requests.get(dep, 0.0)
        errors = self.errors.get(dep, 0.0) - before.errors.get(dep, 0.0)
        now, then = self.buckets.get(dep, {}), before.buckets.get(dep, {})
        delta = sorted((le, now[le] - then.get(le, 0.0)) for le in now)
        return SideStats(requests, errors, _quantile(delta, 0.95))


def _quantile(cumulative: list[tuple[float, float]], q: float) -> float | None:
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    total = cumulative[-1][1]
    for le, count in cumulative:
        if count >= q * total:
            return le
    return cumulative[-1][0]


class Rollout:
    def __init__(
        self,
        client: AdminClient,
        audit: AuditLog,
        model: str,
        candidate: str,
        *,
        steps: list[float],
        interval_s: float,
        spec: RolloutSpec,
        champion: str | None = None,
        environment: str | None = None,
        promote: Callable[[str, str], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        echo: Callable[[str], None] = lambda line: None,
        max_extensions: int = 3,
        stopped: Callable[[], str | None] = lambda: None,
        restore: dict[str, float] | None = None,
    ) -> None:
        """``stopped``: asked after each step's observation; a reason (who stopped it) ends
        the rollout there, traffic restored as on a regression. ``restore``: the weights a
        rollback restores (default: those at the start; a resumed rollout passes the ones
        from before its first start)."""
        self.client = client
        self.audit = audit
        self.model = model
        self.candidate = candidate
        self.champion = champion
        self.steps = steps
        self.interval_s = interval_s
        self.spec = spec
        self.environment = environment
        self.promote = promote
        self.sleep = sleep
        self.echo = echo
        self.max_extensions = max_extensions
        self.stopped = stopped
        self.restore = restore

    def run(self) -> RolloutResult:
        status = self.client.status(self.model)
        original = dict(status["weights"] if self.restore is None else self.restore)
        champion = self.champion or self._champion(original)
        self._wait_loaded(self.candidate)
        versions = self._versions()
        result = RolloutResult(
            self.model, self.candidate, champion, versions.get(self.candidate), versions.get(champion),
            completed=False, rolled_back=False,
        )
        baseline: SideStats | None = None
        for weight in self.steps:
            weights = {champion: 100.0 - weight, self.candidate: weight}
            self.client.set_weights(self.model, weights)
            self.echo(f"step {weight:g}%: {champion}={100 - weight:g} {self.candidate}={weight:g}")
            cand, champ = self._observe(champion, weight)
            if champ.requests >= self.spec.min_requests:
                baseline = champ
            step = self._judge(weight, cand, baseline or champ)
            stop = self.stopped()
            if stop is not None:
                step = Step(weight, cand, champ, False, f"stopped: {stop}")
            result.steps.append(step)
            self._audit("rollout-step" if step.ok else "rollout-rollback", result, step.reason)
            self.echo(f"  {step.reason}")
            if not step.ok:
                self.client.set_weights(self.model, original)
                result.rolled_back = True
                result.reason = step.reason
                self.echo(f"rolled back: traffic restored to {original}")
                return result
        result.completed = True
        result.reason = f"{self.candidate} took {self.steps[-1]:g}% with no regression"
        if self.promote is not None and result.candidate_version is not None:
            stage = self._stage_of(champion)
            if stage is None:
                raise RolloutError(f"champion {champion!r} is a fixed version, not a stage; nothing to promote")
            self.promote(stage, result.candidate_version)
            self.client.reload(self.model)
            self._wait_version(champion, result.candidate_version)
            self.client.set_weights(self.model, original)
            result.promoted = True
            result.reason += f"; {champion} now serves v{result.candidate_version}"
        self._audit("rollout-complete", result, result.reason)
        return result

    def _observe(self, champion: str, weight: float) -> tuple[SideStats, SideStats]:
        before = Snapshot(self.client.metrics(), self.model)
        self.sleep(self.interval_s)
        for _ in range(self.max_extensions + 1):
            after = Snapshot(self.client.metrics(), self.model)
            cand = after.since(before, self.candidate)
            champ = after.since(before, champion)
            if cand.requests >= self.spec.min_requests:
                return cand, champ
            self.sleep(self.interval_s)
        return cand, champ

    def _judge(self, weight: float, cand: SideStats, champ: SideStats) -> Step:
        spec = self.spec
        head = f"{weight:g}%: candidate {cand.requests:.0f} req, {cand.error_rate:.1%} errors, p95 {_ms(cand.p95_s)}; " \
               f"champion {champ.requests:.0f} req, {champ.error_rate:.1%} errors, p95 {_ms(champ.p95_s)}"
        if cand.requests < spec.min_requests:
            return Step(weight, cand, champ, False, f"{head} — too little traffic to judge the candidate")
        if cand.error_rate > champ.error_rate + spec.max_error_rate_increase:
            return Step(weight, cand, champ, False, f"{head} — error rate worse than the champion's")
        if (
            cand.p95_s is not None and champ.p95_s is not None
            and cand.p95_s > champ.p95_s * spec.max_p95_ratio and cand.p95_s - champ.p95_s > 0.005
        ):
            return Step(weight, cand, champ, False, f"{head} — p95 latency worse than the champion's")
        return Step(weight, cand, champ, True, f"{head} — ok")

    def _champion(self, weights: dict[str, float]) -> str:
        others = {n: w for n, w in weights.items() if n != self.candidate and w > 0}
        if not others:
            raise RolloutError(
                f"no champion: {self.candidate!r} already takes all the traffic ({weights})",
                hint="pass --champion DEPLOYMENT",
            )
        return max(others, key=lambda n: others[n])

    def _stage_of(self, name: str) -> str | None:
        for dep in self.client.status(self.model)["deployments"]:
            if dep["deployment"] == name and dep["target"].startswith("stage "):
                return str(dep["target"]).removeprefix("stage ")
        return None

    def _versions(self) -> dict[str, str | None]:
        status = self.client.status(self.model)
        return {d["deployment"]: d["version"] for d in status["deployments"]}

    def _wait_loaded(self, name: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        status = self.client.status(self.model)
        known = {d["deployment"] for d in status["deployments"]}
        if name not in known:  # a new deployment (e.g. v7): add it at weight 0 to load it
            self.client.set_weights(self.model, {**status["weights"], name: 0.0})
        while time.monotonic() < deadline:
            for dep in self.client.status(self.model)["deployments"]:
                if dep["deployment"] == name:
                    if dep["version"] is not None:
                        return
                    if dep["state"] in ("empty", "failed"):
                        raise RolloutError(f"candidate {name!r} cannot serve: {dep['state']} {dep.get('error') or ''}")
            time.sleep(0.2)
        raise RolloutError(f"candidate {name!r} did not load within {timeout_s:g}s")

    def _wait_version(self, name: str, version: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._versions().get(name) == version:
                return
            time.sleep(0.2)
        raise RolloutError(f"{name!r} did not switch to v{version} within {timeout_s:g}s")

    def _audit(self, action: str, result: RolloutResult, reason: str) -> None:
        from conveyor.lifecycle.audit import AuditEvent

        self.audit.append(AuditEvent(
            action=action, model=self.model, stage=self.candidate,
            from_version=result.champion_version, to_version=result.candidate_version,
            reason=reason, environment=self.environment,
        ))


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"≤{seconds * 1000:g}ms"
