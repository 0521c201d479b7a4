"""The quality gate: absolute thresholds, fairness limits and a champion/challenger check.

A verdict is stored on the version it judged (:func:`verdict_tags`): its status, the failed
checks' texts, every check's text, and every check as (metric, threshold, value, passed) —
the table the dashboard shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.core import tags
from conveyor.core.config.schema import GateSpec
from conveyor.lifecycle.metrics import higher_is_better

PASSED = "passed"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    metric: str | None = None  # the metric compared (None: no metric, e.g. a champion not compared)
    threshold: str | None = None  # what it was held to: ">= 0.8", "drop <= 0.02 vs champion v3 (0.8123)"
    value: float | None = None  # the candidate's value (None: not computed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
            checks.append(Check(name, False, f"{name}: not computed (available: {sorted(metrics)})",
                                name, str(condition)))
            continue
        value = metrics[name]
        ok = condition.holds(value)
        checks.append(Check(name, ok, f"{name} = {value:.4f} {'meets' if ok else 'fails'} {condition}",
                            name, str(condition), value))

    for name, condition in spec.fairness.items():
        for column, values in (fairness or {}).items():
            fair = values.get(name)
            check_name = f"fairness.{column}.{name}"
            if fair is None:
                checks.append(Check(check_name, False, f"{check_name}: unknown fairness metric",
                                    check_name, str(condition)))
                continue
            ok = condition.holds(fair)
            verb = "meets" if ok else "fails"
            checks.append(Check(check_name, ok, f"{check_name} = {fair:.4f} {verb} {condition}",
                                check_name, str(condition), fair))

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
            checks.append(Check(f"champion.{name}", False, f"{name}: missing for comparison with {label}",
                                name, f"drop <= {max_drop:g} vs {label}", metrics.get(name)))
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
                name,
                f"drop <= {max_drop:g} vs {label} ({theirs:.4f})",
                ours,
            )
        )
    return checks


def verdict_tags(verdict: Verdict) -> dict[str, str]:
    """The verdict as the version's tags: status, failed checks' texts, every check's text,
    and every check as (metric, threshold, value, passed) (``conveyor.gate.table``)."""
    return {
        tags.GATE: verdict.status,
        tags.GATE_REASONS: json.dumps(verdict.reasons),
        tags.GATE_CHECKS: json.dumps([c.detail for c in verdict.checks]),
        tags.GATE_TABLE: json.dumps([c.to_dict() for c in verdict.checks], allow_nan=False, default=str),
    }
