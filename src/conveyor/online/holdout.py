"""The holdout a checkpoint's gate scores: a fixed table (``online.checkpoint.holdout``, CSV
or Parquet with the features and the target), or the recent holdout stream — a share of the
labelled events, chosen by a hash of their event id (the same events on a replay), kept out
of learning; the gate scores its last ``holdout_size``."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.core.errors import DataError


class Holdout:
    def __init__(self, names: list[str], share: float, size: int) -> None:
        self.names = names
        self.share = share
        self._cut = int(share * 2**32)
        self.size = size
        self._rows: list[tuple[list[Any], Any]] = []  # (feature values in `names` order, label)
        self._fixed: tuple[dict[str, Any], np.ndarray] | None = None

    @property
    def streaming(self) -> bool:
        return self._fixed is None and self.share > 0

    def chosen(self, event_ids: list[str]) -> np.ndarray:
        """Which events belong to the holdout stream (never learned)."""
        if not self.streaming:
            return np.zeros(len(event_ids), dtype=bool)
        cut, crc = self._cut, zlib.crc32
        return np.fromiter((crc(i.encode()) < cut for i in event_ids), dtype=bool, count=len(event_ids))

    def add(self, X: dict[str, Any], labels: np.ndarray) -> None:
        columns = [X[name] for name in self.names]
        for values, label in zip(zip(*columns, strict=True), labels.tolist(), strict=True):
            self._rows.append((list(values), label))
        if len(self._rows) > 2 * self.size:
            del self._rows[: len(self._rows) - self.size]

    def data(self) -> tuple[dict[str, Any], np.ndarray]:
        """The holdout's features (columns) and labels."""
        if self._fixed is not None:
            return self._fixed
        rows = self._rows[-self.size:]
        X = {name: [r[0][j] for r in rows] for j, name in enumerate(self.names)}
        return X, np.asarray([r[1] for r in rows], dtype=object)

    def __len__(self) -> int:
        return len(self.data()[1])

    @classmethod
    def fixed(cls, path: Path, names: list[str], numeric: list[str], target: str) -> Holdout:
        import pandas as pd

        if not path.is_file():
            raise DataError(f"online.checkpoint.holdout {path} does not exist",
                            hint="write the holdout table there, or leave the key out (the recent holdout stream)")
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        missing = [n for n in [*names, target] if n not in frame.columns]
        if missing:
            raise DataError(f"online.checkpoint.holdout {path} lacks the columns {missing}")
        holdout = cls(names, 0.0, len(frame))
        X = {n: frame[n].to_numpy(dtype=np.float64) if n in numeric else frame[n].astype(str).tolist() for n in names}
        holdout._fixed = (X, frame[target].to_numpy(dtype=object))
        return holdout
