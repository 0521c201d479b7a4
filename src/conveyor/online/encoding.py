"""The running feature encoder of the scikit-learn learners: numeric columns standardised by a
running mean and variance (updated with every mini-batch, Chan's merge of moments), categorical
columns one-hot encoded into a fixed number of slots per column (categories take slots in the
order they first appear; once a column's slots are taken, new categories share its last,
"other", slot), so the estimator always sees the same number of features.

``counts`` mode gives non-negative features for MultinomialNB: each standardised numeric
value falls into one of ``bins`` equal bins over [-3, 3] (one-hot), next to the categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from conveyor.online.learner import Columns, as_float_matrix, rows_of

EncoderMode = Literal["standard", "counts"]
_EDGES_Z = 3.0


class FeatureEncoder:
    def __init__(
        self, numeric: Sequence[str], categorical: Sequence[str], max_categories: int = 32,
        mode: EncoderMode = "standard", bins: int = 8,
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.max_categories = max(2, int(max_categories))
        self.mode: EncoderMode = mode
        self.bins = bins
        k = len(self.numeric)
        self.count_ = 0
        self.mean_ = np.zeros(k)
        self.m2_ = np.zeros(k)
        self.slots_: list[dict[Any, int]] = [{} for _ in self.categorical]

    @property
    def n_features(self) -> int:
        per_numeric = self.bins if self.mode == "counts" else 1
        return len(self.numeric) * per_numeric + len(self.categorical) * self.max_categories

    # -- learning ---------------------------------------------------------------------------

    def update(self, X: Columns) -> None:
        """Fold one mini-batch into the running moments and give new categories their slots."""
        n = rows_of(X)
        if n == 0:
            return
        if self.numeric:
            values = as_float_matrix(X, self.numeric)
            mean = values.mean(axis=0)
            m2 = ((values - mean) ** 2).sum(axis=0)
            total = self.count_ + n
            delta = mean - self.mean_
            self.mean_ = self.mean_ + delta * (n / total)
            self.m2_ = self.m2_ + m2 + delta**2 * (self.count_ * n / total)
        self.count_ += n
        last = self.max_categories - 1
        for slots, name in zip(self.slots_, self.categorical, strict=True):
            if len(slots) >= last:
                continue
            for value in dict.fromkeys(X[name]):  # in order of appearance
                if value not in slots:
                    if len(slots) >= last:
                        break
                    slots[value] = len(slots)

    # -- encoding ---------------------------------------------------------------------------

    @property
    def scale_(self) -> np.ndarray:
        if self.count_ < 2:
            return np.ones_like(self.mean_)
        std = np.sqrt(self.m2_ / self.count_)
        return np.where(std > 0, std, 1.0)

    def standardised(self, X: Columns) -> np.ndarray:
        """The numeric columns as z-scores against the running moments (rows × numeric)."""
        z: np.ndarray = (as_float_matrix(X, self.numeric) - self.mean_) / self.scale_
        return z

    def transform(self, X: Columns) -> np.ndarray:
        """The feature matrix (rows × :attr:`n_features`)."""
        n = rows_of(X)
        out = np.zeros((n, self.n_features), dtype=np.float64)
        width = 0
        if self.numeric:
            z = self.standardised(X)
            if self.mode == "standard":
                width = len(self.numeric)
                out[:, :width] = z
            else:
                position = np.clip(((z + _EDGES_Z) / (2 * _EDGES_Z) * self.bins).astype(np.int64), 0, self.bins - 1)
                rows = np.arange(n)
                for j in range(len(self.numeric)):
                    out[rows, j * self.bins + position[:, j]] = 1.0
                width = len(self.numeric) * self.bins
        if self.categorical:
            rows = np.arange(n)
            other = self.max_categories - 1
            for j, (slots, name) in enumerate(zip(self.slots_, self.categorical, strict=True)):
                values = X[name]
                try:  # every category known (the usual case): one C-level pass
                    index = np.fromiter(map(slots.__getitem__, values), dtype=np.int64, count=n)
                except KeyError:
                    get = slots.get
                    index = np.fromiter((get(v, other) for v in values), dtype=np.int64, count=n)
                out[rows, width + j * self.max_categories + index] = 1.0
        return out
