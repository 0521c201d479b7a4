"""Fairness per sensitive attribute on current data, checked against the same thresholds as
the training quality gate (``gate.fairness``, or ``monitor.fairness`` when set).

Every rate is a count per group (one ``np.bincount`` over the rows' group codes), so a window
of millions of rows costs a few passes over arrays; the values equal the group-by definitions
of :mod:`conveyor.lifecycle.metrics` used at training (a test checks it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.config.thresholds import Condition
from conveyor.profiles.profile import category_name

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class FairnessResult:
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def violated(self) -> bool | None:
        return bool(self.violations) if self.columns else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "violated": self.violated}


def evaluate_fairness(
    predictions: np.ndarray,
    groups: pd.DataFrame,
    thresholds: dict[str, Condition],
    y_true: pd.Series | None = None,
    min_rows: int = 30,
    task: str = "classification",
) -> FairnessResult:
    """Per sensitive column: for a classifier, the selection rate per group, demographic parity
    difference and ratio, and (with labels) equalized odds difference; for a regressor, the
    largest gap between groups' mean prediction and (with labels) mean absolute error."""
    import pandas as pd

    result = FairnessResult()
    if len(groups) < min_rows:
        result.messages.append(f"only {len(groups)} rows; fairness needs at least {min_rows}")
        return result
    if task == "regression":
        return _regression(result, predictions, groups, thresholds, y_true)
    predictions = np.asarray(predictions)
    labelled = y_true is not None and y_true.notna().all() and y_true.nunique() >= 2
    truth = np.asarray(y_true) if labelled else None
    positive = max(pd.unique(truth if truth is not None else predictions).tolist())
    selected = (predictions == positive).astype(float)
    actual = None if truth is None else truth == positive
    for column in groups.columns:
        codes, keys = group_codes(groups[column])
        selection = _rates(codes, selected, len(keys))
        top = float(selection.max()) if len(selection) else 0.0
        values: dict[str, Any] = {
            "selection_rate": {category_name(keys[i]): float(selection[i]) for i in _order(keys)},
            "demographic_parity_difference": _spread(selection),
            "demographic_parity_ratio": float(selection.min() / top) if top > 0 else 1.0,
        }
        if actual is not None:
            true_positive = _rates(codes[actual], selected[actual], len(keys))
            false_positive = _rates(codes[~actual], selected[~actual], len(keys))
            values["equalized_odds_difference"] = max(_spread(true_positive), _spread(false_positive))
        result.columns[column] = values
        _violations(result, column, values, thresholds)
    if not labelled:
        result.messages.append("no labels: equalized odds difference not computed")
    return result


MISSING_GROUP = "<missing>"  # the group of rows whose sensitive value is missing


def group_codes(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Each row's group as a code into the group keys (a missing value is ``<missing>``)."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = list(np.asarray(uniques, dtype=object))
    if (codes < 0).any():
        if MISSING_GROUP not in keys:
            keys.append(MISSING_GROUP)
        codes = np.where(codes < 0, keys.index(MISSING_GROUP), codes)
    return codes, keys


def _order(keys: list[Any]) -> list[int]:
    """The groups in sorted order of their keys (as a group-by lists them), else as found."""
    try:
        return sorted(range(len(keys)), key=lambda i: keys[i])
    except TypeError:  # keys of types that do not compare (numbers and <missing>)
        return list(range(len(keys)))


def _rates(codes: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """The mean of ``values`` per group, for the groups with at least one row."""
    counts = np.bincount(codes, minlength=groups)
    sums = np.bincount(codes, weights=values, minlength=groups)
    present = counts > 0
    return np.asarray(sums[present] / counts[present])


def _spread(rates: np.ndarray) -> float:
    return float(rates.max() - rates.min()) if len(rates) else 0.0


def _regression(
    result: FairnessResult, predictions: np.ndarray, groups: pd.DataFrame,
    thresholds: dict[str, Condition], y_true: pd.Series | None,
) -> FairnessResult:
    labelled = y_true is not None and bool(y_true.notna().all())
    predicted = np.asarray(predictions, dtype=float)
    errors = np.abs(np.asarray(y_true, dtype=float) - predicted) if labelled else None
    for column in groups.columns:
        codes, keys = group_codes(groups[column])
        values = {"mean_prediction_difference": _spread(_rates(codes, predicted, len(keys)))}
        if errors is not None:
            values["mae_difference"] = _spread(_rates(codes, errors, len(keys)))
        result.columns[column] = values
        _violations(result, column, values, thresholds)
    if not labelled:
        result.messages.append("no labels: the gap in mean absolute error is not computed")
    return result


def _violations(
    result: FairnessResult, column: str, values: dict[str, Any], thresholds: dict[str, Condition]
) -> None:
    for metric, condition in thresholds.items():
        if metric in values and not condition.holds(float(values[metric])):
            result.violations.append(f"{column}: {metric} {values[metric]:.3f} violates {condition}")
