"""Schema and type checks: every feature present, numeric ones finite numbers (not booleans,
not numeric strings), categorical ones strings. The check builds the typed columns the other
guards and the learner take, column by column: a column whose values are all of the right
type costs one pass; only a column with a stranger in it is looked at row by row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

_MISSING = object()
_NUMBERS = frozenset({int, float})


class SchemaCheck:
    def __init__(self, numeric: Sequence[str], categorical: Sequence[str]) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)

    def columns(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[int, str]]:
        """The typed columns of the rows that pass (in order), and {row: problem} for the others."""
        fast = self._all_well_typed(rows)
        if fast is not None:
            return fast, {}
        return self._checked(rows)

    def _all_well_typed(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The usual batch in one C-level pass per column: every feature present and of its type."""
        names = [*self.numeric, *self.categorical]
        if not rows:
            return None
        try:
            picked = list(zip(*map(itemgetter(*names), rows), strict=True)) if len(names) > 1 else \
                [tuple(map(itemgetter(names[0]), rows))]
        except KeyError:
            return None
        X: dict[str, Any] = {}
        for name, values in zip(self.numeric, picked, strict=False):
            if not set(map(type, values)) <= _NUMBERS:
                return None
            column = np.asarray(values, dtype=np.float64)
            if not np.isfinite(column).all():
                return None
            X[name] = column
        for name, values in zip(self.categorical, picked[len(self.numeric):], strict=True):
            if set(map(type, values)) != {str}:
                return None
            X[name] = values
        return X

    def _checked(self, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[int, str]]:
        problems: dict[int, str] = {}
        raw: dict[str, list[Any]] = {}
        for name in self.numeric:
            values = raw[name] = [row.get(name, _MISSING) for row in rows]
            if not set(map(type, values)) <= _NUMBERS:
                for i, value in enumerate(values):
                    if type(value) not in _NUMBERS and i not in problems:
                        problems[i] = _numeric_problem(name, value)
        for name in self.categorical:
            values = raw[name] = [row.get(name, _MISSING) for row in rows]
            if not set(map(type, values)) <= {str}:
                for i, value in enumerate(values):
                    if type(value) is not str and i not in problems:
                        problems[i] = _text_problem(name, value)
        keep = None if not problems else [i for i in range(len(rows)) if i not in problems]
        X: dict[str, Any] = {}
        for name in self.numeric:
            values = raw[name] if keep is None else [raw[name][i] for i in keep]
            column = np.asarray(values, dtype=np.float64)
            finite = np.isfinite(column)
            if not finite.all():  # inf / nan can only come from a huge number: refuse them too
                positions = keep if keep is not None else list(range(len(rows)))
                for k in np.flatnonzero(~finite).tolist():
                    problems.setdefault(positions[k], f"column {name!r} must be a finite number, got {values[k]!r}")
                return self.columns_without(rows, problems)
            X[name] = column
        for name in self.categorical:
            X[name] = raw[name] if keep is None else [raw[name][i] for i in keep]
        return X, problems

    def columns_without(self, rows: list[dict[str, Any]], problems: dict[int, str]) -> tuple[dict[str, Any], dict[int, str]]:
        kept = [row for i, row in enumerate(rows) if i not in problems]
        X, more = self.columns(kept)
        assert not more
        return X, problems


def _numeric_problem(name: str, value: Any) -> str:
    if value is _MISSING:
        return f"missing column {name!r}"
    if value is None:
        return f"column {name!r} is null (the learner has no imputer)"
    if isinstance(value, float) and math.isnan(value):
        return f"column {name!r} is NaN"
    return f"column {name!r} must be a number, got {type(value).__name__} {value!r:.50}"


def _text_problem(name: str, value: Any) -> str:
    if value is _MISSING:
        return f"missing column {name!r}"
    if value is None:
        return f"column {name!r} is null"
    return f"column {name!r} must be a string, got {type(value).__name__} {value!r:.50}"
