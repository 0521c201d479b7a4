"""The quality gate: absolute thresholds, fairness limits and a champion/challenger check."""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.core.config.schema import GateSpec
from conveyor.lifecycle.metrics import higher_is_better

PASSED = "passed"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Champion:
    """The current holder of the comparison stage, scored on the candidate's test set."""

    stage: str
    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def status(self) -> str:
        return PASSED if self.passed else FAILED

    @property
    def reasons(self) -> list[str]:
        return [check.detail for check in self.checks if not check.passed]


def evaluate_gate(
    spec: GateSpec,
    metrics: dict[str, float],
    *,
    champion: Champion | None = None,
    champion_metrics: list[str] | None = None,
    fairness: dict[str, dict[str, float]] | None = None,
) -> Verdict:
    checks: list[Check] = []
    for name, condition in spec.metrics.items():
        if name not in metrics:
            checks.append(Check(name, False, f"{name}: not computed (available: {sorted(metrics)})"))
            continue
        value = metrics[name]
        ok = condition.holds(value)
        checks.append(Check(name, ok, f"{name} = {value:.4f} {'meets' if ok else 'fails'} {condition}"))

    for name, condition in spec.fairness.items():
        for column, values in (fairness or {}).items():
            fair = values.get(name)
            check_name = f"fairness.{column}.{name}"
            if fair is None:
                checks.append(Check(check_name, False, f"{check_name}: unknown fairness metric"))
                continue
            ok = condition.holds(fair)
            verb = "meets" if ok else "fails"
            checks.append(Check(check_name, ok, f"{check_name} = {fair:.4f} {verb} {condition}"))

    if champion is not None and spec.champion is not None:
        checks.extend(_champion_checks(spec.champion.max_drop, metrics, champion, champion_metrics or []))
    return Verdict(checks)


def _champion_checks(
    max_drop: float, metrics: dict[str, float], champion: Champion, names: list[str]
) -> list[Check]:
    label = f"champion {champion.stage} v{champion.version}"
    if champion.error is not None:
        # A champion that cannot score today's test set (e.g. its features were dropped)
        # is no yardstick; say so instead of blocking every new version forever.
        return [Check("champion", True, f"{label} not compared: {champion.error}")]
    checks = []
    for name in names:
        if name not in metrics or name not in champion.metrics:
            checks.append(Check(f"champion.{name}", False, f"{name}: missing for comparison with {label}"))
            continue
        ours, theirs = metrics[name], champion.metrics[name]
        drop = (theirs - ours) if higher_is_better(name) else (ours - theirs)
        ok = drop <= max_drop + 1e-12
        relation = "within" if ok else "worse than"
        checks.append(
            Check(
                f"champion.{name}",
                ok,
                f"{name} = {ours:.4f} vs {label} {theirs:.4f}: {relation} max_drop {max_drop:g}",
            )
        )
    return checks
