"""Label sanity: a class the model was not told about, a regression target outside its range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from conveyor.online.guards.base import Guard, GuardBatch, Rejected


class LabelGuard(Guard):
    name = "labels"

    def __init__(self, classes: Sequence[Any] | None = None, target_range: tuple[float, float] | None = None) -> None:
        """``classes`` for a classifier; without them labels must be finite numbers (in
        ``target_range`` when given)."""
        self.classes = None if classes is None else {c: i for i, c in enumerate(classes)}
        self.target_range = target_range

    def check(self, batch: GuardBatch, alive: np.ndarray) -> list[Rejected]:
        labels = batch.labels
        out: list[Rejected] = []
        if self.classes is not None:
            known = self.classes
            kinds = set(map(type, labels))
            if kinds <= _PLAIN and not (set(labels) - known.keys() - {None}):
                return []  # every label is a known class (or none): nothing to look at row by row
            bad = [i for i in np.flatnonzero(alive).tolist()
                   if labels[i] is not None and not _known(labels[i], known)]
            if bad:
                names = ", ".join(map(repr, known))
                out.append(Rejected(np.asarray(bad), "unknown_class",
                                    [f"label {labels[i]!r:.50} is not one of the classes {names}" for i in bad]))
        else:
            out.extend(self._numeric(labels, alive))
        return out

    def _numeric(self, labels: list[Any], alive: np.ndarray) -> list[Rejected]:
        rows = [i for i in np.flatnonzero(alive).tolist() if labels[i] is not None]
        if not rows:
            return []
        wrong = [i for i in rows if type(labels[i]) not in (int, float)]
        out = []
        if wrong:
            out.append(Rejected(np.asarray(wrong), "label_type",
                                [f"label {labels[i]!r:.50} is not a number" for i in wrong]))
        numbers = [i for i in rows if type(labels[i]) in (int, float)]
        values = np.asarray([labels[i] for i in numbers], dtype=np.float64)
        bad = ~np.isfinite(values)
        if self.target_range is not None:
            low, high = self.target_range
            bad |= (values < low) | (values > high)
        if bad.any():
            positions = np.asarray(numbers)[bad]
            where = f" [{self.target_range[0]:g}, {self.target_range[1]:g}]" if self.target_range else ""
            out.append(Rejected(positions, "label_out_of_range",
                                [f"label {labels[i]!r:.50} is outside the target range{where}" for i in positions]))
        return out


_PLAIN = frozenset({int, str, float, type(None)})


def _known(label: Any, known: dict[Any, int]) -> bool:
    if type(label) is bool or isinstance(label, list | dict):
        return False  # JSON true is not the class 1; a list is no class
    return label in known
