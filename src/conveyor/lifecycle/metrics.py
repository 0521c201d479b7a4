"""Default evaluation metrics per task, their direction, and fairness by sensitive group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.config.schema import FAIRNESS_BY_TASK

if TYPE_CHECKING:
    import pandas as pd

HIGHER_IS_BETTER = {"accuracy", "f1", "roc_auc", "r2", "precision", "recall"}
LOWER_IS_BETTER = {"rmse", "mae", "mse", "log_loss"}
PRIMARY_METRIC = {"classification": "roc_auc", "regression": "rmse"}
FAIRNESS_METRICS = FAIRNESS_BY_TASK["classification"]
REGRESSION_FAIRNESS_METRICS = FAIRNESS_BY_TASK["regression"]
# what evaluate_model computes per task (roc_auc only for a model with predict_proba)
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def evaluate_model(model: Any, X: pd.DataFrame, y: pd.Series, task: str) -> dict[str, float]:
    """Score a fitted estimator on a held-out set with the task's default metrics."""
    proba = model.predict_proba(X) if task != "regression" and hasattr(model, "predict_proba") else None
    classes = getattr(model, "classes_", None)
    return task_metrics(y, model.predict(X), task, proba, None if classes is None else list(classes))


def task_metrics(
    y: pd.Series, predictions: Any, task: str, scores: Any = None, model_classes: list[Any] | None = None
) -> dict[str, float]:
    """The task's default metrics from a model's outputs: ``scores`` are its class
    probabilities (one column per class of ``model_classes``) or, for a binary model, the
    positive class's probability alone; without them there is no roc_auc.

    The classes are the model's (``model_classes``; the labels' only when it is not given),
    never the batch's: a window holding some classes of a 3-class model is still judged with
    macro averages. f1 (macro) and roc_auc (one-vs-rest, macro) average over the model's
    classes that occur among the labels (all of them on a test set, where this equals
    scikit-learn's ``average="macro"`` / ``multi_class="ovr"``); roc_auc needs two classes
    among the labels and is left out otherwise."""
    from sklearn import metrics as skm

    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predictions))),
            "mae": float(skm.mean_absolute_error(y, predictions)),
            "r2": float(skm.r2_score(y, predictions)),
        }
    truth = np.asarray(y)
    classes = list(model_classes) if model_classes is not None else np.unique(truth).tolist()
    present = [c for c in classes if np.any(truth == c)]
    binary = len(classes) <= 2
    positive = max(classes) if classes else None
    out = {"accuracy": float(skm.accuracy_score(y, predictions))}
    if binary:
        out["f1"] = float(skm.f1_score(y, predictions, average="binary", pos_label=positive,
                                       zero_division=0.0))
    else:
        out["f1"] = float(skm.f1_score(y, predictions, average="macro", labels=present, zero_division=0.0))
    if scores is None or len(present) < 2:
        return out
    if binary:
        out["roc_auc"] = float(skm.roc_auc_score(truth == positive, _class_scores(scores, classes, positive)))
    elif len(present) == len(classes):
        out["roc_auc"] = float(skm.roc_auc_score(y, scores, multi_class="ovr", labels=classes))
    else:
        matrix = np.asarray(scores)
        out["roc_auc"] = float(np.mean([
            skm.roc_auc_score(truth == c, matrix[:, classes.index(c)]) for c in present
        ]))
    return out


def _class_scores(scores: Any, classes: list[Any], label: Any) -> np.ndarray:
    """The probability of ``label``: a column of the matrix, or from the positive-class scores."""
    scores = np.asarray(scores)
    column = classes.index(label)  # ValueError for a label the model never saw
    if scores.ndim == 2:
        return np.asarray(scores[:, column])
    return np.asarray(scores if label == max(classes) else 1.0 - scores)


def _positive_label(classes: np.ndarray) -> Any:
    """The larger label (1 for 0/1, True for booleans, the second in sort order otherwise)."""
    return max(classes.tolist())


def fairness_metrics(
    y_true: pd.Series, y_pred: np.ndarray, groups: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Per sensitive column: demographic parity difference/ratio and equalized odds difference.

    Binary classification only; the positive label is the larger class label.
    """
    import pandas as pd

    y_true_arr = np.asarray(y_true)
    classes = np.unique(y_true_arr)
    positive = _positive_label(classes)
    predicted_positive = np.asarray(y_pred) == positive
    actual_positive = y_true_arr == positive
    out: dict[str, dict[str, float]] = {}
    for column in groups.columns:
        group = groups[column].astype("object").fillna("<missing>").to_numpy()
        frame = pd.DataFrame({"g": group, "pred": predicted_positive, "true": actual_positive})
        selection = frame.groupby("g")["pred"].mean()
        tpr = frame[frame["true"]].groupby("g")["pred"].mean()
        fpr = frame[~frame["true"]].groupby("g")["pred"].mean()
        top = float(selection.max()) if len(selection) else 0.0
        out[column] = {
            "demographic_parity_difference": float(selection.max() - selection.min()),
            "demographic_parity_ratio": float(selection.min() / top) if top > 0 else 1.0,
            "equalized_odds_difference": float(
                max(_spread(tpr), _spread(fpr))
            ),
        }
    return out


def regression_fairness_metrics(
    y_true: pd.Series | None, y_pred: np.ndarray, groups: pd.DataFrame
) -> dict[str, dict[str, float]]:
    """Per sensitive column: the largest gap between groups' mean prediction and (with labels)
    between groups' mean absolute error."""
    import pandas as pd

    predictions = np.asarray(y_pred, dtype=float)
    out: dict[str, dict[str, float]] = {}
    for column in groups.columns:
        group = groups[column].astype("object").fillna("<missing>").to_numpy()
        frame = pd.DataFrame({"g": group, "pred": predictions})
        values = {"mean_prediction_difference": _spread(frame.groupby("g")["pred"].mean())}
        if y_true is not None:
            frame["error"] = np.abs(np.asarray(y_true, dtype=float) - predictions)
            values["mae_difference"] = _spread(frame.groupby("g")["error"].mean())
        out[column] = values
    return out


def _spread(rates: pd.Series) -> float:
    return float(rates.max() - rates.min()) if len(rates) else 0.0
