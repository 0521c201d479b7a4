"""Performance (concept) drift: gate metrics on labelled current data vs the baseline's test
metrics, and a Page-Hinkley detector over the per-row error stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.lifecycle.metrics import PRIMARY_METRIC, higher_is_better, task_metrics

if TYPE_CHECKING:
    import pandas as pd


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

    @property
    def drift_detected(self) -> bool:
        return self.detected_at_ is not None

    @property
    def statistic(self) -> float:
        return self.cumulative_ - self.minimum_


@dataclass
class PerformanceResult:
    metric: str
    rows: int
    current: float | None
    baseline: float | None
    tolerance: float
    degraded: bool | None
    metrics: dict[str, float] = field(default_factory=dict)
    detector: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
) -> PerformanceResult:
    """Score ``X`` with ``model`` and judge it (see :func:`evaluate_outputs`)."""
    return evaluate_outputs(
        lambda labelled: score_outputs(model, X[labelled], task), y, task, baseline_metrics,
        metric=metric, tolerance=tolerance, min_rows=min_rows,
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
) -> PerformanceResult:
    """Degraded when the metric is worse than the baseline by more than ``tolerance``:
    absolute for bounded scores (roc_auc, f1, accuracy, ...), relative for errors (rmse, mae).

    ``outputs`` are the model's outputs for every row of ``y``, or a function giving them for
    the labelled rows (called only when there are enough)."""
    name = metric or PRIMARY_METRIC[task]
    labelled = y.notna().to_numpy()
    y = y[labelled]
    result = PerformanceResult(name, len(y), None, baseline_metrics.get(name), tolerance, None)
    if len(y) < min_rows:
        result.messages.append(
            f"only {len(y)} labelled rows; at least {min_rows} are needed for a performance verdict"
        )
        return result
    try:
        rows = outputs(labelled) if callable(outputs) else outputs.select(labelled)
        result.metrics = task_metrics(y, rows.predictions, task, rows.scores, rows.classes)
    except Exception as exc:  # noqa: BLE001 - e.g. one class only, or unscorable rows
        result.messages.append(f"cannot compute metrics on the current data: {exc}")
        return result
    result.current = result.metrics.get(name)
    if result.current is None:
        result.messages.append(f"metric {name!r} is not available for this model and data")
    elif result.baseline is None:
        result.messages.append(f"the baseline has no {name!r}; nothing to compare with")
    else:
        if higher_is_better(name):
            result.degraded = result.current < result.baseline - tolerance
        else:
            result.degraded = result.current > result.baseline * (1 + tolerance)
    result.detector = _page_hinkley(rows.predictions, y, task, baseline_metrics)
    return result


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
    for value in errors:
        detector.update(float(value))
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
