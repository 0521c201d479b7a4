"""Performance (concept) drift on labelled current data, judged with its uncertainty.

Checks: every gate metric with a threshold (``gate.metrics``), and the watched metric
(``monitor.performance.metric``, default the task's primary) against the baseline's test value
less the tolerance (absolute for bounded scores, relative for errors). A check fails only when
the window is *significantly* on the wrong side of its bound: a one-sided z-test whose standard
error comes from a bootstrap of the window (:mod:`conveyor.monitoring.bootstrap`: 200
resamples, fixed seed, so the verdict is reproducible); against the baseline the baseline's own sampling error is added,
scaled from the window's by the two sample sizes (``se_b = se_w * sqrt(n_w / n_b)``: the same
per-row variance under the null of one population). The checks share the false-alarm rate
(Bonferroni: each at ``rate / checks``), so a window from the training population fails the
performance signal with probability at most ``false_alarm_rate`` (default 5 %), as long as the
model truly meets its gate. A Page-Hinkley detector over the per-row error stream is reported
alongside; it does not decide.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.lifecycle.metrics import PRIMARY_METRIC, higher_is_better
from conveyor.monitoring.bootstrap import standard_errors

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.core.config.thresholds import Condition

DEFAULT_FALSE_ALARM_RATE = 0.05


@dataclass
class PageHinkley:
    """Page-Hinkley test for an increase of a stream's mean above ``reference``.

    ``m_t = sum(x_i - reference - delta)``; an alarm is raised when ``m_t - min(m)`` exceeds
    ``threshold``. With ``reference`` left as None the running mean is used (classic form).
    """

    delta: float = 0.02
    threshold: float = 25.0
    reference: float | None = None
    n_: int = 0
    mean_: float = 0.0
    cumulative_: float = 0.0
    minimum_: float = 0.0
    detected_at_: int | None = None

    def update(self, value: float) -> bool:
        self.n_ += 1
        self.mean_ += (value - self.mean_) / self.n_
        level = self.mean_ if self.reference is None else self.reference
        self.cumulative_ += value - level - self.delta
        self.minimum_ = min(self.minimum_, self.cumulative_)
        if self.detected_at_ is None and self.cumulative_ - self.minimum_ > self.threshold:
            self.detected_at_ = self.n_
        return self.drift_detected

    def update_all(self, values: np.ndarray) -> bool:
        """:meth:`update` with each of ``values`` in turn, as array operations: the same sums
        in the same order (with a ``reference``, the very numbers of the loop; with the
        running mean, equal to rounding)."""
        values = np.asarray(values, dtype=float)
        if not len(values):
            return self.drift_detected
        counts = self.n_ + np.arange(1, len(values) + 1)
        means = (self.mean_ * self.n_ + np.cumsum(values)) / counts
        level = means if self.reference is None else self.reference
        steps = values - level - self.delta
        steps[0] += self.cumulative_
        cumulative = np.cumsum(steps)
        minimum = np.minimum.accumulate(np.minimum(cumulative, self.minimum_))
        if self.detected_at_ is None:
            over = np.flatnonzero(cumulative - minimum > self.threshold)
            if len(over):
                self.detected_at_ = int(counts[over[0]])
        self.n_, self.mean_ = int(counts[-1]), float(means[-1])
        self.cumulative_, self.minimum_ = float(cumulative[-1]), float(minimum[-1])
        return self.drift_detected

    @property
    def drift_detected(self) -> bool:
        return self.detected_at_ is not None

    @property
    def statistic(self) -> float:
        return self.cumulative_ - self.minimum_


@dataclass
class PerformanceCheck:
    """One metric against one bound: a gate threshold, or the baseline less the tolerance."""

    metric: str
    against: str  # "gate" | "baseline"
    value: float
    bound: float
    higher_is_better: bool
    standard_error: float
    p_value: float  # of a shortfall this large if the bound were met
    alpha: float  # the check's share of the false-alarm rate
    failed: bool
    baseline: float | None = None  # the baseline's value (checks against the baseline)

    @property
    def detail(self) -> str:
        """One clause: ``accuracy 0.61 below the gate's 0.85``."""
        relation = ("below" if self.higher_is_better else "above") if self.failed else "meets"
        if self.against == "gate":
            return f"{self.metric} {self.value:.4g} {relation} the gate's {self.bound:.4g}"
        return (f"{self.metric} {self.value:.4g} {relation} the baseline's {self.baseline:.4g} "
                f"with tolerance ({self.bound:.4g})")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "detail": self.detail}


@dataclass
class PerformanceResult:
    metric: str
    rows: int
    current: float | None
    baseline: float | None
    tolerance: float
    degraded: bool | None
    metrics: dict[str, float] = field(default_factory=dict)
    checks: list[PerformanceCheck] = field(default_factory=list)
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE
    detector: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[PerformanceCheck]:
        return [c for c in self.checks if c.failed]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checks"] = [c.to_dict() for c in self.checks]
        return out


@dataclass
class ModelOutputs:
    """What the model said for each row: the predictions and, for classifiers with
    ``predict_proba``, the scores: 1-D for the positive (largest) class of a binary model, else
    one column per class of ``classes``."""

    predictions: np.ndarray
    scores: np.ndarray | None = None
    classes: list[Any] | None = None

    def select(self, mask: np.ndarray) -> ModelOutputs:
        scores = None if self.scores is None else self.scores[mask]
        return ModelOutputs(self.predictions[mask], scores, self.classes)


OutputSource = ModelOutputs | Callable[[np.ndarray], ModelOutputs]


def score_outputs(model: Any, X: pd.DataFrame, task: str) -> ModelOutputs:
    """Predictions and class probabilities of ``model`` on ``X``."""
    predictions = np.asarray(model.predict(X))
    if task != "classification" or not hasattr(model, "predict_proba"):
        return ModelOutputs(predictions)
    classes = getattr(model, "classes_", None)
    scores = np.asarray(model.predict_proba(X))
    return ModelOutputs(predictions, scores, None if classes is None else list(classes))


def evaluate_performance(
    model: Any,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    baseline_metrics: dict[str, float],
    *,
    metric: str | None = None,
    tolerance: float = 0.05,
    min_rows: int = 30,
    gate: dict[str, Condition] | None = None,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    baseline_rows: int | None = None,
) -> PerformanceResult:
    """Score ``X`` with ``model`` and judge it (see :func:`evaluate_outputs`)."""
    return evaluate_outputs(
        lambda labelled: score_outputs(model, X[labelled], task), y, task, baseline_metrics,
        metric=metric, tolerance=tolerance, min_rows=min_rows, gate=gate,
        false_alarm_rate=false_alarm_rate, baseline_rows=baseline_rows,
    )


def evaluate_outputs(
    outputs: OutputSource,
    y: pd.Series,
    task: str,
    baseline_metrics: dict[str, float],
    *,
    metric: str | None = None,
    tolerance: float = 0.05,
    min_rows: int = 30,
    gate: dict[str, Condition] | None = None,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    baseline_rows: int | None = None,
) -> PerformanceResult:
    """Degraded when a check fails (see the module's docstring): a gate threshold of ``gate``,
    or the watched metric worse than the baseline by more than ``tolerance`` (``baseline_rows``:
    the size of the baseline's test set; unknown, its sampling error is left out).

    ``outputs`` are the model's outputs for every row of ``y``, or a function giving them for
    the labelled rows (called only when there are enough)."""
    name = metric or PRIMARY_METRIC[task]
    labelled = y.notna().to_numpy()
    y = y[labelled]
    result = PerformanceResult(name, len(y), None, baseline_metrics.get(name), tolerance, None,
                               false_alarm_rate=false_alarm_rate)
    if len(y) < min_rows:
        result.messages.append(
            f"only {len(y)} labelled rows; at least {min_rows} are needed for a performance verdict"
        )
        return result
    bounds = _bounds(result, gate or {}, baseline_metrics, tolerance)
    truth = np.asarray(y)
    # The bootstrap runs in a thread while the window's metrics are computed: both are numpy
    # (which releases the GIL) and neither needs the other; only bounds the metrics allow are used.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="conveyor-bootstrap") as pool:
        try:
            rows = outputs(labelled) if callable(outputs) else outputs.select(labelled)
            errors = pool.submit(standard_errors, truth, rows.predictions, task, rows.scores, rows.classes,
                                 {b[0] for b in bounds}) if bounds else None
            result.metrics = window_metrics(truth, rows.predictions, task, rows.scores, rows.classes)
        except Exception as exc:  # noqa: BLE001 - e.g. unscorable rows
            result.messages.append(f"cannot compute metrics on the current data: {exc}")
            return result
        result.current = result.metrics.get(name)
        if result.current is None:
            result.messages.append(f"metric {name!r} is not available for this model and data")
        elif result.baseline is None:
            result.messages.append(f"the baseline has no {name!r}; nothing to compare with")
        for missing in sorted({b[0] for b in bounds} - set(result.metrics)):
            result.messages.append(f"gate metric {missing!r} cannot be computed on the current data")
        bounds = [b for b in bounds if b[0] in result.metrics]
        result.detector = _page_hinkley(rows.predictions, y, task, baseline_metrics)
        if bounds and errors is not None:
            errors_of = errors.result()
            alpha = false_alarm_rate / len(bounds)
            for metric_name, against, bound, higher in bounds:
                se = errors_of.get(metric_name, 0.0)
                if against == "baseline" and baseline_rows:
                    se = float(np.hypot(se, se * np.sqrt(len(y) / baseline_rows)))
                result.checks.append(_check(result.metrics[metric_name], metric_name, against, bound, higher,
                                            se, alpha, result.baseline if against == "baseline" else None))
            result.degraded = any(c.failed for c in result.checks)
    return result


def window_metrics(
    truth: np.ndarray, predictions: np.ndarray, task: str, scores: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> dict[str, float]:
    """:func:`conveyor.lifecycle.metrics.task_metrics` of a window, as array operations (the
    same conventions and values, a test checks them against scikit-learn; a metric undefined
    on the window is left out)."""
    truth, predictions = np.asarray(truth), np.asarray(predictions)
    if task == "regression":
        return _regression_metrics(truth.astype(float), predictions.astype(float))
    classes = list(classes) if classes is not None else np.unique(truth).tolist()
    out = {"accuracy": float(np.mean(predictions == truth))}
    f1, present = [], []
    for label in classes:
        actual, said = truth == label, predictions == label
        tp = np.count_nonzero(actual & said)
        wrong = np.count_nonzero(said) - tp + np.count_nonzero(actual) - tp  # fp + fn
        f1.append(2 * tp / (2 * tp + wrong) if tp or wrong else 0.0)
        present.append(bool(actual.any()))
    if len(classes) <= 2:
        if classes:
            out["f1"] = float(f1[-1])
    elif any(present):
        out["f1"] = float(np.mean([v for v, p in zip(f1, present, strict=True) if p]))
    if scores is None or len(classes) < 2 or sum(present) < 2:
        return out
    matrix = np.asarray(scores, dtype=float)
    if len(classes) <= 2:
        out["roc_auc"] = rank_auc(truth == classes[1], matrix if matrix.ndim == 1 else matrix[:, 1])
    else:
        out["roc_auc"] = float(np.mean([rank_auc(truth == label, matrix[:, j])
                                        for j, label in enumerate(classes) if present[j]]))
    return out


def rank_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: the positives' mean rank among all scores (ties
    at their average rank), one sort (not a stable one: equal scores are one run, whatever
    their order)."""
    order = np.argsort(scores)
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, len(ordered)])
    average_rank = starts + (lengths + 1) / 2.0  # 1-based rank of each run of equal scores
    positives_per_run = np.add.reduceat(positive[order].astype(np.int64), starts)
    n_pos = int(positives_per_run.sum())
    n_neg = len(scores) - n_pos
    rank_sum = float(positives_per_run @ average_rank)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _regression_metrics(truth: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    error = truth - predictions
    sse = float(np.sum(error * error))
    centred = truth - np.mean(truth)
    sst = float(np.sum(centred * centred))
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)  # scikit-learn's finite r2
    return {"rmse": float(np.sqrt(np.mean(error * error))), "mae": float(np.mean(np.abs(error))), "r2": r2}


def _bounds(
    result: PerformanceResult, gate: dict[str, Condition], baseline: dict[str, float], tolerance: float
) -> list[tuple[str, str, float, bool]]:
    """(metric, against, bound, higher is better) of every check to run."""
    out = []
    for name, condition in gate.items():
        if condition.op in (">=", ">", "<=", "<"):
            out.append((name, "gate", condition.bound, condition.op in (">=", ">")))
    name, value = result.metric, result.baseline
    if value is not None:
        higher = higher_is_better(name)
        out.append((name, "baseline", value - tolerance if higher else value * (1 + tolerance), higher))
    return out


def _check(
    value: float, name: str, against: str, bound: float, higher: bool, se: float, alpha: float,
    baseline: float | None,
) -> PerformanceCheck:
    from scipy.special import ndtr

    shortfall = (bound - value) if higher else (value - bound)
    if se > 0:
        p = float(ndtr(-shortfall / se))  # the normal's upper tail
    else:  # every resample gave the same value: the window leaves no doubt
        p = 0.0 if shortfall > 0 else 1.0
    return PerformanceCheck(name, against, value, bound, higher, se, p, alpha,
                            failed=shortfall > 0 and p < alpha, baseline=baseline)


def _page_hinkley(
    predictions: np.ndarray, y: pd.Series, task: str, baseline: dict[str, float]
) -> dict[str, Any]:
    predictions = np.asarray(predictions)
    truth = np.asarray(y)
    if task == "classification":
        errors = (predictions != truth).astype(float)
        reference = 1.0 - baseline["accuracy"] if "accuracy" in baseline else None
        detector = PageHinkley(delta=0.02, threshold=25.0, reference=reference)
    else:
        scale = baseline.get("mae") or float(np.mean(np.abs(truth - predictions))) or 1.0
        errors = np.abs(truth.astype(float) - predictions.astype(float)) / scale
        detector = PageHinkley(delta=0.1, threshold=25.0, reference=1.0 if "mae" in baseline else None)
    detector.update_all(errors)
    return {
        "name": "page_hinkley",
        "reference_error": detector.reference,
        "delta": detector.delta,
        "threshold": detector.threshold,
        "alarm": detector.drift_detected,
        "at_row": detector.detected_at_,
        "statistic": detector.statistic,
        "error": float(errors.mean()) if len(errors) else None,
    }
