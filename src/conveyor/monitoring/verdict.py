"""The verdict of one monitoring run: one status from named signals, and the one sentence that
says which signal(s) decided it.

Signals: ``data`` (the share of features that drifted against ``monitor.drift.share``),
``prediction`` (the model's outputs drifted), ``performance`` (a gate threshold or the
tolerance against the baseline failed, see :mod:`conveyor.monitoring.performance`),
``fairness`` (a fairness limit is violated) and ``target`` (the labels' distribution moved).
``monitor.fail_on`` names the signals that count (default: data, prediction, performance); the
others are reported only. The status:

- ``drift``: a counted signal moved;
- ``no drift``: at least one counted signal was judged and none moved;
- ``insufficient data``: the window is empty or smaller than ``monitor.drift.min_rows``, or no
  counted signal could be judged (no baseline, no labels, ...).

The terminal, the JSON summary, the MLflow run and the HTML report all lead with
:attr:`Verdict.sentence`; ``--fail-on-drift`` exits with :meth:`Verdict.exit_code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core.capture import PREDICTION, SCORE
from conveyor.core.errors import ExitCode

if TYPE_CHECKING:
    from conveyor.monitoring.drift import DriftResult, FeatureDrift
    from conveyor.monitoring.fairness import FairnessResult
    from conveyor.monitoring.performance import PerformanceResult

SIGNALS = ("data", "prediction", "performance", "fairness", "target")
DRIFT = "drift"
NO_DRIFT = "no drift"
INSUFFICIENT = "insufficient data"
_OUTPUT_NAMES = {PREDICTION: "predicted label", SCORE: "prediction score"}
_LISTED = 5  # features named in the data signal's clause


@dataclass(frozen=True)
class Signal:
    """One signal: whether it moved (None: not judged), one clause saying why, and whether
    ``monitor.fail_on`` counts it."""

    name: str
    moved: bool | None
    detail: str
    counted: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "moved": self.moved, "detail": self.detail, "counted": self.counted}


@dataclass(frozen=True)
class Verdict:
    status: str
    signals: list[Signal] = field(default_factory=list)
    why: str = ""  # for insufficient data: what was lacking

    @property
    def deciding(self) -> list[Signal]:
        """The signals that decided the status: the counted ones that moved (drift), else the
        counted ones that were judged (no drift)."""
        if self.status == DRIFT:
            return [s for s in self.signals if s.counted and s.moved]
        if self.status == NO_DRIFT:
            return [s for s in self.signals if s.counted and s.moved is not None]
        return []

    @property
    def drift_detected(self) -> bool | None:
        return None if self.status == INSUFFICIENT else self.status == DRIFT

    @property
    def sentence(self) -> str:
        """``drift: performance — accuracy 0.61 below the gate's 0.85; f1 0.53 below 0.80``."""
        if self.status == INSUFFICIENT:
            return f"{INSUFFICIENT} — {self.why}"
        deciding = self.deciding
        names = ", ".join(s.name for s in deciding)
        if len(deciding) == 1:
            clauses = deciding[0].detail
        else:
            clauses = "; ".join(f"{s.name}: {s.detail}" for s in deciding)
        aside = [s for s in self.signals if not s.counted and s.moved]
        tail = "".join(f" (not counted: {s.name} — {s.detail})" for s in aside)
        return f"{self.status}: {names} — {clauses}{tail}"

    def exit_code(self) -> ExitCode:
        """What ``--fail-on-drift`` exits with."""
        if self.status == DRIFT:
            return ExitCode.DRIFT
        if self.status == INSUFFICIENT:
            return ExitCode.INSUFFICIENT_DATA
        return ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "sentence": self.sentence,
            "deciding": [s.name for s in self.deciding],
            "signals": [s.to_dict() for s in self.signals],
        }


def decide(
    rows: int,
    min_rows: int,
    fail_on: list[str],
    drift: DriftResult | None,
    performance: PerformanceResult | None,
    fairness: FairnessResult | None,
) -> Verdict:
    """The verdict of a run over ``rows`` rows from its results."""
    counted = set(fail_on)
    signals = [
        _data(drift, "data" in counted),
        _prediction(drift, "prediction" in counted),
        _performance(performance, "performance" in counted),
        _fairness(fairness, "fairness" in counted),
        _target(drift, "target" in counted),
    ]
    if rows == 0:
        return Verdict(INSUFFICIENT, signals, "the window is empty (0 rows)")
    if rows < min_rows:
        return Verdict(INSUFFICIENT, signals, f"only {rows} rows; at least {min_rows} are needed for a verdict")
    judged = [s for s in signals if s.counted and s.moved is not None]
    if any(s.moved for s in judged):
        return Verdict(DRIFT, signals)
    if judged:
        return Verdict(NO_DRIFT, signals)
    unjudged = "; ".join(f"{s.name}: {s.detail}" for s in signals if s.counted) or "monitor.fail_on is empty"
    return Verdict(INSUFFICIENT, signals, f"no signal of monitor.fail_on could be judged ({unjudged})")


def _data(drift: DriftResult | None, counted: bool) -> Signal:
    if drift is None:
        return Signal("data", None, "not judged (no baseline profile)", counted)
    judged = [f for f in drift.features if f.drifted is not None]
    if drift.dataset_drift is None or not judged:
        return Signal("data", None, "not judged (no feature had enough data)", counted)
    drifted = drift.drifted_features
    share = len(drifted) / len(judged)
    relation = "≥" if drift.dataset_drift else "<"
    detail = (f"{len(drifted)} of {len(judged)} features drifted ({share:.0%} {relation} the "
              f"{drift.share_threshold:.0%} share)")
    if drifted:
        listed = ", ".join(drifted[:_LISTED]) + (", …" if len(drifted) > _LISTED else "")
        detail += f": {listed}"
    return Signal("data", bool(drift.dataset_drift), detail, counted)


def _moved(item: FeatureDrift, label: str) -> str:
    return f"{label} {'; '.join(item.reasons) or 'moved'}"


def _prediction(drift: DriftResult | None, counted: bool) -> Signal:
    outputs = [] if drift is None else [o for o in drift.outputs if o.drifted is not None]
    if not outputs:
        return Signal("prediction", None, "not judged (no model outputs to compare)", counted)
    moved = [o for o in outputs if o.drifted]
    if moved:
        detail = "; ".join(_moved(o, _OUTPUT_NAMES.get(o.column, o.column)) for o in moved)
        return Signal("prediction", True, detail, counted)
    return Signal("prediction", False, "the model's outputs are stable", counted)


def _performance(performance: PerformanceResult | None, counted: bool) -> Signal:
    if performance is None:
        return Signal("performance", None, "not judged (no labelled rows)", counted)
    if performance.degraded is None:
        why = performance.messages[0] if performance.messages else "no metric could be compared"
        return Signal("performance", None, f"not judged ({why})", counted)
    failed = performance.failed_checks
    if failed:
        return Signal("performance", True, _joined([c.detail for c in failed]), counted)
    return Signal("performance", False, _joined([c.detail for c in performance.checks]), counted)


def _joined(clauses: list[str]) -> str:
    """Clauses after the first drop a repeated "the gate's": ``accuracy 0.61 below the
    gate's 0.85; f1 0.53 below 0.8``."""
    out = []
    for i, clause in enumerate(clauses):
        out.append(clause if i == 0 else clause.replace(" the gate's ", " "))
    return "; ".join(out)


def _fairness(fairness: FairnessResult | None, counted: bool) -> Signal:
    if fairness is None or fairness.violated is None:
        return Signal("fairness", None, "not judged (no sensitive columns or predictions)", counted)
    if fairness.violations:
        return Signal("fairness", True, "; ".join(fairness.violations), counted)
    return Signal("fairness", False, "every fairness limit holds", counted)


def _target(drift: DriftResult | None, counted: bool) -> Signal:
    target = None if drift is None else drift.target
    if target is None or target.drifted is None:
        return Signal("target", None, "not judged (no labels)", counted)
    if target.drifted:
        return Signal("target", True, _moved(target, "the labels:"), counted)
    return Signal("target", False, "the labels' distribution is stable", counted)
