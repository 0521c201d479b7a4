"""Progressive validation: every labelled event is predicted before it is learned, and the
predictions are judged against the labels — over the whole stream (running counts) and over a
sliding window of the last ``window`` labelled events, with the gate's metrics
(:func:`conveyor.lifecycle.metrics.task_metrics`: accuracy, f1, roc_auc; rmse, mae, r2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.lifecycle.metrics import task_metrics


class Ring:
    """The last ``size`` rows of an array (1-D or 2-D), in arrival order on read."""

    def __init__(self, size: int, width: int | None = None, dtype: Any = np.float64) -> None:
        self.size = size
        shape = (size,) if width is None else (size, width)
        self._data = np.empty(shape, dtype=dtype)
        self._next = 0
        self.filled = 0

    def extend(self, values: np.ndarray) -> None:
        values = values[-self.size:]
        n = len(values)
        end = self._next + n
        if end <= self.size:
            self._data[self._next:end] = values
        else:
            first = self.size - self._next
            self._data[self._next:] = values[:first]
            self._data[: n - first] = values[first:]
        self._next = end % self.size
        self.filled = min(self.size, self.filled + n)

    def values(self) -> np.ndarray:
        if self.filled < self.size:
            return self._data[: self.filled]
        return np.concatenate([self._data[self._next:], self._data[: self._next]])


class Prequential:
    def __init__(self, task: str, classes: list[Any] | None, window: int) -> None:
        self.task = task
        self.classes = classes
        classifier = task == "classification"
        self.truth = Ring(window, dtype=object if classifier else np.float64)
        self.predicted = Ring(window, dtype=object if classifier else np.float64)
        self.proba = Ring(window, len(classes)) if classifier and classes else None
        self.seen = 0
        self.correct = 0  # classification: right predictions over the whole stream
        self.abs_error = 0.0  # regression: summed over the whole stream
        self.squared_error = 0.0

    def add(self, truth: np.ndarray, predicted: np.ndarray, proba: np.ndarray | None) -> np.ndarray:
        """Judge one batch's predictions; returns each row's error (0/1, or absolute)."""
        if not len(truth):
            return np.zeros(0)
        self.seen += len(truth)
        if self.task == "classification":
            errors: np.ndarray = (truth != predicted).astype(np.float64)
            self.correct += int(len(truth) - errors.sum())
        else:
            diff = np.asarray(truth, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
            errors = np.abs(diff)
            self.abs_error += float(errors.sum())
            self.squared_error += float((diff**2).sum())
        self.truth.extend(truth)
        self.predicted.extend(predicted)
        if self.proba is not None and proba is not None:
            self.proba.extend(proba)
        return errors

    @property
    def accuracy(self) -> float | None:
        """Over the whole stream (classification)."""
        return self.correct / self.seen if self.seen and self.task == "classification" else None

    def window_metrics(self) -> dict[str, float]:
        """The gate's metrics over the sliding window (empty before the first label)."""
        if self.truth.filled == 0 or self.task not in ("classification", "regression"):
            return {}
        truth, predicted = self.truth.values(), self.predicted.values()
        proba = self.proba.values() if self.proba is not None and self.proba.filled == self.truth.filled else None
        if self.task == "classification":
            truth, predicted = truth.tolist(), predicted.tolist()
        return task_metrics(truth, predicted, self.task, proba, self.classes)

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"labelled": float(self.seen)}
        if self.seen and self.task == "classification":
            out["accuracy"] = self.correct / self.seen
        elif self.seen:
            out["mae"] = self.abs_error / self.seen
            out["rmse"] = float(np.sqrt(self.squared_error / self.seen))
        return out
