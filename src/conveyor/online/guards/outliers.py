"""The poison filter: a robust z-score of every watched numeric value against the running
profile of the values that were accepted before it — the median and the MAD (scaled by
1.4826, a standard deviation for normal data) of the last ``profile_size`` accepted values of
each column, recomputed whenever half of the profile is new. A row with any ``|x - median| / scale`` above
``z`` is rejected (``outlier``). Until the profile holds ``min_profile`` values the batch
itself joins it as the yardstick (a median is robust to a few poisoned values; the scaler of
the learner must not see them at the start either). A column whose MAD is 0 (mostly one value) uses its mean absolute deviation
(× 1.2533); a column that never varies is not judged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from conveyor.online.guards.base import Guard, GuardBatch, Rejected
from conveyor.online.validation import Ring

_MAD_TO_SD = 1.4826
_MEAN_AD_TO_SD = 1.2533


class OutlierGuard(Guard):
    name = "outliers"

    def __init__(self, columns: Sequence[str], z: float, profile_size: int = 2048, min_profile: int = 256,
                 target: str | None = None) -> None:
        self.columns = list(columns)  # the target's name among them: the label is watched too
        self.target = target
        self.z = z
        self.size = profile_size
        self.min_profile = min_profile
        self._profile = Ring(profile_size, len(self.columns))
        self._centre = np.zeros(len(self.columns))
        self._scale = np.zeros(len(self.columns))
        self._new = 0  # values added since the last refresh

    def _matrix(self, batch: GuardBatch, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), len(self.columns)))
        for j, name in enumerate(self.columns):
            if name == self.target:
                labels = batch.labels
                out[:, j] = [np.nan if labels[i] is None else float(labels[i]) for i in rows.tolist()]
            else:
                out[:, j] = np.asarray(batch.X[name])[rows]
        return out

    def check(self, batch: GuardBatch, alive: np.ndarray) -> list[Rejected]:
        if not self.columns:
            return []
        rows = np.flatnonzero(alive)
        values = self._matrix(batch, rows)
        if self._profile.filled < self.min_profile:  # warming up: this batch and what came before
            reference = np.concatenate([self._profile.values(), values])
            reference = reference[np.isfinite(reference).all(axis=1)]
            if len(reference) < 16:
                return []
            self._centre, self._scale = _robust(reference)
        judged = self._scale > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.abs(values - self._centre) / np.where(judged, self._scale, 1.0)
        z = np.where(judged & np.isfinite(values), z, 0.0)
        worst = z.max(axis=1)
        bad = worst > self.z
        if not bad.any():
            return []
        positions = rows[bad]
        columns = z[bad].argmax(axis=1)
        details = [
            f"{self.columns[j]} = {values[k, j]:.6g} is {z[k, j]:.1f} robust SDs from the running median "
            f"{self._centre[j]:.6g} (limit {self.z:g})"
            for k, j in zip(np.flatnonzero(bad).tolist(), columns.tolist(), strict=True)
        ]
        return [Rejected(positions, "outlier", details)]

    def accepted(self, batch: GuardBatch, alive: np.ndarray) -> None:
        rows = np.flatnonzero(alive)
        if not len(rows) or not self.columns:
            return
        values = self._matrix(batch, rows)
        self._profile.extend(values)
        self._new += len(values)
        if self._profile.filled < self.min_profile or self._new * 2 >= self.size:
            self._refresh()

    def _refresh(self) -> None:
        self._new = 0
        self._centre, self._scale = _robust(self._profile.values())  # accepted rows: no missing values


def _robust(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the median, and the MAD as a standard deviation (the mean absolute deviation
    where the MAD is 0; 0 where the column does not vary)."""
    centre = np.median(values, axis=0)
    deviation = np.abs(values - centre)
    scale = _MAD_TO_SD * np.median(deviation, axis=0)
    fallback = _MEAN_AD_TO_SD * deviation.mean(axis=0)
    return centre, np.where(scale > 0, scale, fallback)
