"""Bootstrap standard errors of the task metrics, all resamples at once.

A resample is a vector of row weights (how often each row was drawn: multinomial); every
metric of :func:`conveyor.lifecycle.metrics.task_metrics` is a weighted statistic of the rows,
so ``resamples`` of them are a few matrix products instead of ``resamples`` calls into
scikit-learn. With unit weights each equals ``task_metrics`` (a test checks it). The same
conventions: f1 and roc_auc average over the model's classes present among the resample's
labels; roc_auc needs two of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 200
BOOTSTRAP_SEED = 0
MAX_ROWS = 20_000  # rows bootstrapped; a larger window is subsampled (resamples x rows weights)


def resample_weights(rows: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``resamples`` x ``rows`` draw counts (seeded: the same window gives the same errors):
    each resample draws ``rows`` rows uniformly with replacement, counted per row."""
    rng = np.random.default_rng(seed)
    small = resamples * rows < 2**31  # 32-bit draws are twice as fast to make
    drawn = rng.integers(0, rows, size=(resamples, rows), dtype=np.int32 if small else np.int64)
    offsets = np.arange(resamples, dtype=drawn.dtype)[:, None] * rows  # one range of counts per resample
    counts = np.bincount((drawn + offsets).reshape(-1), minlength=resamples * rows)
    return np.asarray(counts.reshape(resamples, rows), dtype=float)


def weighted_metrics(
    weights: np.ndarray, truth: np.ndarray, predictions: np.ndarray, task: str,
    scores: np.ndarray | None = None, classes: list[Any] | None = None,
) -> dict[str, np.ndarray]:
    """Each metric per resample (one row of ``weights`` each; NaN where undefined)."""
    if task == "regression":
        return _regression(weights, truth.astype(float), predictions.astype(float))
    classes = list(classes) if classes is not None else np.unique(truth).tolist()
    total = weights.sum(axis=1)
    out = {"accuracy": weights @ (predictions == truth).astype(float) / total}
    is_true = np.stack([truth == c for c in classes], axis=1).astype(float)  # rows x classes
    is_pred = np.stack([predictions == c for c in classes], axis=1).astype(float)
    tp = weights @ (is_true * is_pred)
    fp = weights @ ((1 - is_true) * is_pred)
    fn = weights @ (is_true * (1 - is_pred))
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    present = (weights @ is_true) > 0
    if len(classes) <= 2:
        out["f1"] = f1[:, len(classes) - 1] if classes else np.full(len(weights), np.nan)
    else:
        out["f1"] = _masked_mean(f1, present)
    if scores is None or len(classes) < 2:
        return out
    matrix = np.asarray(scores, dtype=float)
    if len(classes) <= 2:
        positive = matrix if matrix.ndim == 1 else matrix[:, 1]
        out["roc_auc"] = _auc(weights, is_true[:, 1] > 0, positive)
        return out
    per_class = np.stack([_auc(weights, is_true[:, i] > 0, matrix[:, i]) for i in range(len(classes))], axis=1)
    out["roc_auc"] = _masked_mean(per_class, present & np.isfinite(per_class))
    return out


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counted = mask.sum(axis=1)
    summed = np.where(mask, np.nan_to_num(values), 0.0).sum(axis=1)
    return np.asarray(np.divide(summed, counted, out=np.full(len(values), np.nan), where=counted > 0))


def _auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC per resample (ties count half); NaN without both classes."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # one run per distinct score
    by_score = np.ascontiguousarray(weights[:, order].T)  # rows (by score) x resamples
    is_positive = positive[order][:, None]
    pos, neg = by_score * is_positive, by_score * ~is_positive
    if len(starts) < len(ordered):  # ties: one row per distinct score
        pos, neg = np.add.reduceat(pos, starts, axis=0), np.add.reduceat(neg, starts, axis=0)
    below = np.cumsum(neg, axis=0) - neg
    pairs = pos.sum(axis=0) * neg.sum(axis=0)
    wins = (pos * (below + 0.5 * neg)).sum(axis=0)
    return np.asarray(np.divide(wins, pairs, out=np.full(len(weights), np.nan), where=pairs > 0))


def _regression(weights: np.ndarray, truth: np.ndarray, predictions: np.ndarray) -> dict[str, np.ndarray]:
    total = weights.sum(axis=1)
    error = truth - predictions
    sse = weights @ (error * error)
    mean = weights @ truth / total
    centred = truth[None, :] - mean[:, None]  # resamples x rows: no cancellation in sst
    sst = np.einsum("ij,ij->i", weights, centred * centred)
    r2 = np.where(sst > 0, 1 - np.divide(sse, sst, out=np.zeros_like(sse), where=sst > 0), np.nan)
    return {"rmse": np.sqrt(sse / total), "mae": weights @ np.abs(error) / total, "r2": r2}


def standard_errors(
    truth: np.ndarray, predictions: np.ndarray, task: str, scores: np.ndarray | None,
    classes: list[Any] | None, names: set[str],
) -> dict[str, float]:
    """The bootstrap standard error of each metric of ``names`` on the window (resamples where
    a metric is undefined are left out for it). A window of more than ``MAX_ROWS`` rows is
    bootstrapped on a seeded subsample of that size and the errors scaled by
    ``sqrt(MAX_ROWS / rows)`` (errors shrink as one over the root of the size)."""
    truth, predictions = np.asarray(truth), np.asarray(predictions)
    factor = 1.0
    if len(truth) > MAX_ROWS:
        pick = np.random.default_rng(BOOTSTRAP_SEED).choice(len(truth), MAX_ROWS, replace=False)
        factor = float(np.sqrt(MAX_ROWS / len(truth)))
        truth, predictions = truth[pick], predictions[pick]
        scores = None if scores is None else np.asarray(scores)[pick]
    weights = resample_weights(len(truth))
    metrics = weighted_metrics(weights, truth, predictions, task, scores, classes)
    out = {}
    for name in names:
        values = metrics.get(name)
        if values is None:
            continue
        finite = values[np.isfinite(values)]
        if len(finite) >= 2:
            out[name] = float(np.std(finite, ddof=1)) * factor
    return out
