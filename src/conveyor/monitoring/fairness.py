"""Fairness per sensitive attribute on current data, checked against the same thresholds as
the training quality gate (``gate.fairness``, or ``monitor.fairness`` when set)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.config.thresholds import Condition
from conveyor.lifecycle.metrics import fairness_metrics, regression_fairness_metrics
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
    classes = np.unique(np.asarray(y_true)) if labelled else np.unique(predictions)
    positive = max(classes.tolist())
    for column in groups.columns:
        group = groups[column].astype("object").fillna("<missing>")
        selection = (
            pd.Series(predictions == positive, index=groups.index).groupby(group.to_numpy()).mean()
        )
        top = float(selection.max()) if len(selection) else 0.0
        values: dict[str, Any] = {
            "selection_rate": {category_name(k): float(v) for k, v in selection.items()},
            "demographic_parity_difference": float(selection.max() - selection.min()),
            "demographic_parity_ratio": float(selection.min() / top) if top > 0 else 1.0,
        }
        if labelled:
            assert y_true is not None
            full = fairness_metrics(y_true, predictions, groups[[column]])[column]
            values["equalized_odds_difference"] = full["equalized_odds_difference"]
        result.columns[column] = values
        _violations(result, column, values, thresholds)
    if not labelled:
        result.messages.append("no labels: equalized odds difference not computed")
    return result


def _regression(
    result: FairnessResult, predictions: np.ndarray, groups: pd.DataFrame,
    thresholds: dict[str, Condition], y_true: pd.Series | None,
) -> FairnessResult:
    labelled = y_true is not None and bool(y_true.notna().all())
    result.columns = regression_fairness_metrics(y_true if labelled else None, predictions, groups)
    for column, values in result.columns.items():
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
