"""The pieces of a plan: per-column steps, per-column outputs, matrix steps and heads.

Each mirrors the arithmetic of the scikit-learn estimator it replaces, in the same order, so
results are the same numbers (not merely close) wherever the estimator computes densely.
Each also says which values it :class:`Accepts` as the estimator does: an imputer takes
NaN, a scaler lets NaN through, a linear model takes neither, and no step takes infinity;
a kept estimator's own rules are probed once when the plan is compiled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from typing import Any, ClassVar, overload

import numpy as np

from conveyor.inference.columns import Encoded

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Accepts:
    """Which non-finite values a step takes (the estimator raises on the others): NaN,
    infinity, and finite values past float32's range (estimators that cast to float32)."""

    nan: bool = False
    inf: bool = False
    beyond_float32: bool = True

    def refused(self, values: np.ndarray) -> np.ndarray | None:
        """The mask of ``values`` the step refuses, None when it takes them all (one pass)."""
        if values.dtype.kind != "f":
            return None
        if self.beyond_float32:
            fine = np.isfinite(values)  # never warns: no errstate to enter
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                fine = np.abs(values) <= FLOAT32_MAX
        if fine.all():
            return None
        bad = ~fine
        if self.nan:
            bad &= ~np.isnan(values)
        if self.inf:
            bad &= ~np.isinf(values)
        return bad if bad.any() else None

    @staticmethod
    def reason(reached: float, given: Any, step: str) -> str:
        """Why ``step`` refuses the value ``reached`` it (from the row's input value ``given``)."""
        if reached != reached and (given is None or given != given):
            return f"missing value: {step} does not accept missing values (impute them in the pipeline)"
        return f"{given!r} is infinite or too large for {step}"


REFUSES_NON_FINITE = Accepts()
PASSES_NAN = Accepts(nan=True)


def missing_mask(values: np.ndarray, marker: Any) -> np.ndarray:
    """scikit-learn's missing-value mask: NaN matches NaN (never None); others by equality."""
    mask: np.ndarray
    if isinstance(marker, float) and marker != marker:
        if values.dtype.kind == "f":
            mask = np.isnan(values)
        elif values.dtype.kind == "O":
            mask = values != values
        else:
            mask = np.zeros(len(values), dtype=bool)
        return mask
    return np.asarray(values == marker, dtype=bool)


@dataclass(frozen=True)
class Impute:
    """SimpleImputer for one column: missing values become the learned statistic."""

    marker: Any
    fill: Any
    label: ClassVar[str] = "SimpleImputer"

    @property
    def accepts(self) -> Accepts:
        """NaN where NaN is the missing marker; never infinity (scikit-learn's check)."""
        return PASSES_NAN if isinstance(self.marker, float) and self.marker != self.marker else REFUSES_NON_FINITE

    @overload
    def apply(self, column: Encoded) -> Encoded: ...
    @overload
    def apply(self, column: np.ndarray) -> np.ndarray: ...
    def apply(self, column: Encoded | np.ndarray) -> Encoded | np.ndarray:
        if isinstance(column, Encoded):
            dictionary = column.dictionary.copy()
            if dictionary.dtype.kind != "O" and not isinstance(self.fill, (int, float)):
                dictionary = dictionary.astype(object)
            dictionary[missing_mask(dictionary, self.marker)] = self.fill
            return column.with_dictionary(dictionary)
        out = column.copy()
        out[missing_mask(out, self.marker)] = self.fill
        return out


@dataclass(frozen=True)
class Scale:
    """StandardScaler for one column: subtract the mean, divide by the scale (each optional)."""

    mean: float | None
    scale: float | None
    label: ClassVar[str] = "StandardScaler"
    accepts: ClassVar[Accepts] = PASSES_NAN

    def apply(self, column: np.ndarray) -> np.ndarray:
        out = np.asarray(column, dtype=np.float64)
        if self.mean is not None:
            out = out - self.mean
        if self.scale is not None:
            out = out / self.scale
        return out


@dataclass(frozen=True)
class MinMax:
    """MinMaxScaler for one column: ``x * scale + min``, clipped to the range when asked."""

    scale: float
    offset: float
    clip: tuple[float, float] | None = None
    label: ClassVar[str] = "MinMaxScaler"
    accepts: ClassVar[Accepts] = PASSES_NAN

    def apply(self, column: np.ndarray) -> np.ndarray:
        out = np.asarray(column, dtype=np.float64) * self.scale
        out += self.offset
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return out


SMALL = 512  # up to this many values, look them up one by one in a dict (no pandas Index)


@dataclass(frozen=True)
class OneHot:
    """OneHotEncoder for one column: which output column (of ``width``) is 1, -1 for none."""

    categories: np.ndarray
    dropped: int | None = None  # index of the dropped category (``drop=``), if any
    ignore_unknown: bool = True
    column_index: int = 0

    @property
    def width(self) -> int:
        return len(self.categories) - (self.dropped is not None)

    label: ClassVar[str] = "OneHotEncoder"
    accepts: ClassVar[Accepts] = PASSES_NAN  # on numbers: NaN is a category; infinity is refused

    def positions(self, column: Encoded | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Per row, which output column is 1 (-1 for none), and the mask of rows the encoder
        refuses (unknown categories under ``handle_unknown='error'``; None: none)."""
        encoded = column if isinstance(column, Encoded) else Encoded(np.asarray(column))
        found = self.index_of(encoded.dictionary)
        refused = None
        if not self.ignore_unknown and (found < 0).any():
            refused = encoded.take(found < 0)
            if not refused.any():
                refused = None
        if self.dropped is not None:
            found = np.where(found == self.dropped, -1, np.where(found > self.dropped, found - 1, found))
        return encoded.take(found), refused

    def string_positions(self, values: list[str]) -> np.ndarray | None:
        """:meth:`positions` of a list of strings, straight from the lookup; None where one is
        unknown and refused (``handle_unknown='error'``: :meth:`positions` names it)."""
        found = np.fromiter(map(self._lookup.get, values, repeat(-1)), dtype=np.intp, count=len(values))
        if not self.ignore_unknown and (found < 0).any():
            return None
        if self.dropped is not None:
            found = np.where(found == self.dropped, -1, np.where(found > self.dropped, found - 1, found))
        return found

    def reason(self, value: Any) -> str:
        known = ", ".join(repr(c) for c in self.categories.tolist()[:5]) + (", ..." if len(self.categories) > 5 else "")
        what = "missing value" if value != value or value is None else f"unknown category {value!r}"
        return f"{what}: OneHotEncoder(handle_unknown='error') knows only {known}"

    def index_of(self, values: np.ndarray) -> np.ndarray:
        """Position of each value among the categories, -1 if absent. NaN finds a NaN category
        and None a None category; neither finds the other (as in scikit-learn)."""
        if len(values) <= SMALL:
            items = values.tolist()
            looked = np.fromiter(map(self._lookup.get, items, repeat(-2)), dtype=np.intp, count=len(items))
            for row in np.flatnonzero(looked == -2).tolist():  # not a category: NaN finds a NaN category
                value = items[row]
                looked[row] = self._nan_at if value != value else -1
            return looked
        found: np.ndarray = self._index.get_indexer(values)
        if self._nan_at >= 0 or self._none_at >= 0:
            nan_rows = missing_mask(values, np.nan)
            found[nan_rows] = self._nan_at
            if values.dtype.kind == "O":
                found[values == None] = self._none_at
        return found.astype(np.intp, copy=False)

    @cached_property
    def _lookup(self) -> dict[Any, int]:
        return {c: i for i, c in reversed(list(enumerate(self.categories.tolist()))) if c == c}

    @cached_property
    def _nan_at(self) -> int:
        hits = np.flatnonzero(missing_mask(self.categories, np.nan))
        return int(hits[0]) if len(hits) else -1

    @cached_property
    def _none_at(self) -> int:
        hits = [i for i, c in enumerate(self.categories.tolist()) if c is None]
        return hits[0] if hits else -1

    @cached_property
    def _index(self) -> Any:
        import pandas as pd

        plain = np.array([c if c == c and c is not None else _Absent() for c in self.categories.tolist()], dtype=object)
        return pd.Index(plain, dtype=object)


class _Absent:
    """A placeholder category that equals nothing (keeps NaN/None out of the pandas Index)."""


@dataclass(frozen=True)
class MatrixScale:
    """Per-column steps (scalers, an imputer) on the whole matrix after the column transformer."""

    steps: tuple[Impute | Scale | MinMax, ...]

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        for j, step in enumerate(self.steps):
            matrix[:, j] = step.apply(matrix[:, j])
        return matrix


@dataclass(frozen=True)
class LinearHead:
    """``X @ coef.T + intercept``; classifiers add sigmoid (binary) or softmax (multinomial)."""

    coef: np.ndarray  # (outputs, features) or (features,)
    intercept: np.ndarray | float
    classes: np.ndarray | None = None  # None: a regressor
    label: str = "the linear model"  # the estimator's class name, for refusals
    accepts: ClassVar[Accepts] = REFUSES_NON_FINITE

    def decision(self, matrix: np.ndarray) -> np.ndarray:
        scores: np.ndarray = matrix @ self.coef.T + self.intercept
        if scores.ndim > 1 and scores.shape[1] == 1:
            scores = scores.reshape(-1)
        return scores

    def run(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        scores = self.decision(matrix)
        if self.classes is None:
            return scores, None
        if scores.ndim == 1:
            labels = self.classes[(scores > 0).astype(int)]
            positive = _expit(scores)
            return labels, np.stack([1 - positive, positive], axis=1)
        labels = self.classes[scores.argmax(axis=1)]
        return labels, _softmax(scores.copy())


@dataclass(frozen=True)
class EstimatorHead:
    """Any other fitted final estimator, called on the dense feature matrix."""

    estimator: Any
    accepts: Accepts = REFUSES_NON_FINITE  # probed when compiled (see compile.probe_accepts)

    @property
    def label(self) -> str:
        return type(self.estimator).__name__

    def run(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        labels = np.asarray(self.estimator.predict(matrix))
        proba = None
        if hasattr(self.estimator, "classes_") and hasattr(self.estimator, "predict_proba"):
            proba = np.asarray(self.estimator.predict_proba(matrix))
        return labels, proba


SMALL_EXPIT = 4096  # below: the logistic function value by value, without importing scipy


def _expit(values: np.ndarray) -> np.ndarray:
    """scipy's ``expit`` (what LogisticRegression.predict_proba calls), bit for bit: it is
    ``1 / (1 + exp(-x))`` with the C library's ``exp``, which :func:`math.exp` calls too. A
    small batch (a serving request) is computed here, so a serving worker never imports
    scipy (~30 MB); a large one through scipy's ufunc."""
    if values.size > SMALL_EXPIT:
        from scipy.special import expit

        out: np.ndarray = expit(values)
        return out
    return np.fromiter((_logistic(v) for v in values.tolist()), dtype=np.float64, count=values.size)


def _logistic(value: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-value))
    except OverflowError:  # exp(-x) past the largest double: C gives inf, and 1 / inf is 0
        return 0.0


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores -= scores.max(axis=1)[:, np.newaxis]
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1)[:, np.newaxis]
    return scores
