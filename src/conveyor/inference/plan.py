"""An inference plan: read columns, run their steps, assemble the feature matrix, apply the head.

Every step checks the values it is given as its estimator does (:class:`~conveyor.inference.steps.Accepts`,
unknown categories, text in a numeric column). Rows a step refuses are collected with the
field and the reason, and the run raises :class:`~conveyor.core.errors.RefusedRows` naming
them: the rows the fitted pipeline would raise on, never NaN predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, cast

import numpy as np

from conveyor.core.errors import Refusal, RefusedRows
from conveyor.inference.columns import Encoded, encoded_values, numbers_or_refused
from conveyor.inference.steps import (
    Accepts,
    EstimatorHead,
    Impute,
    LinearHead,
    MatrixScale,
    MinMax,
    OneHot,
    Scale,
)

ColumnStepType = Impute | Scale | MinMax


@dataclass(frozen=True)
class ColumnPlan:
    """One input column: read as numbers or as encoded values, transformed, then emitted as
    one matrix column (numbers) or a one-hot block (``encoder``)."""

    name: str
    encoded: bool  # read as dictionary-encoded values (categories) rather than float64
    steps: tuple[ColumnStepType, ...] = ()
    encoder: OneHot | None = None

    @property
    def width(self) -> int:
        return 1 if self.encoder is None else self.encoder.width

    @cached_property
    def takes_text_directly(self) -> bool:
        """Whether a column of strings only goes straight to the encoder: its imputers look
        for NaN or None, which strings never are."""
        return self.encoded and all(
            isinstance(step, Impute) and (step.marker is None or (isinstance(step.marker, float)
                                                                  and step.marker != step.marker))
            for step in self.steps
        )

    def fill(self, source: Any, matrix: np.ndarray, offset: int, refusals: Refusals) -> np.ndarray | None:
        """Write the column's block into ``matrix``; returns its input as numbers (None for a
        column read as categories), which refusals further on quote."""
        column: Encoded | np.ndarray
        given: np.ndarray | None = None
        if self.encoder is not None and self.takes_text_directly and type(source) is list \
                and set(map(type, source)) == {str}:
            positions = self.encoder.string_positions(source)  # no missing value: nothing to impute
            if positions is not None:
                rows = np.flatnonzero(positions >= 0)
                matrix[rows, offset + positions[rows]] = 1.0
                return None
        if self.encoded:
            column = encoded_values(source)
            for step in self.steps:  # compile lets only imputers reach a text column
                column = cast(Impute, step).apply(column)
        else:
            values, not_numbers = numbers_or_refused(source)
            given = values
            if not_numbers is not None:
                items = source.tolist() if hasattr(source, "tolist") else list(source)
                refusals.add(not_numbers, self.name, lambda row: f"{items[row]!r} is not a number")
            for step in self.steps:
                refusals.check(values, step.accepts, step.label, self.name, given)
                values = step.apply(values)
            column = values
        if self.encoder is None:
            matrix[:, offset] = column
            return given
        if isinstance(column, np.ndarray):
            assert given is not None
            refusals.check(column, self.encoder.accepts, self.encoder.label, self.name, given)
        elif column.dictionary.dtype.kind == "f":  # numbers read as categories: infinity is refused
            infinite = self.encoder.accepts.refused(column.dictionary)
            if infinite is not None:
                label, categories = self.encoder.label, column
                refusals.add(column.take(infinite), self.name,
                             lambda row: Accepts.reason(np.inf, _value_at(categories, row), label))
        positions, unknown = self.encoder.positions(column)
        if unknown is not None:
            encoder, shown = self.encoder, column
            refusals.add(unknown, self.name, lambda row: encoder.reason(_value_at(shown, row)))
        rows = np.flatnonzero(positions >= 0)
        matrix[rows, offset + positions[rows]] = 1.0
        return given


@dataclass(frozen=True)
class NumberBlock:
    """Numeric columns of one plan with steps of the same kinds (NaN imputed with a number,
    then scaled), run as one array: a few numpy calls for all of them instead of a dozen per
    column, the same arithmetic value by value. It takes only Python lists (a stream's
    micro-batch) holding no infinity; anything else runs column by column, where refusals
    are found and named."""

    indexes: tuple[int, ...]  # positions in the plan's columns
    names: tuple[str, ...]
    offsets: np.ndarray  # their matrix columns
    fills: np.ndarray | None  # one per column, shaped (columns, 1)
    means: np.ndarray | None
    scales: np.ndarray | None

    @staticmethod
    def kinds(column: ColumnPlan) -> tuple[type, ...] | None:
        """The column's step kinds where a block can run them, else None."""
        if column.encoded or column.encoder is not None:
            return None
        kinds = tuple(type(step) for step in column.steps)
        if kinds not in ((), (Impute,), (Scale,), (Impute, Scale)):
            return None
        for step in column.steps:
            if isinstance(step, Impute) and not (
                isinstance(step.marker, float) and step.marker != step.marker
                and type(step.fill) in (int, float) and np.isfinite(step.fill)
            ):
                return None
        return kinds

    @classmethod
    def of(cls, members: list[tuple[int, int, ColumnPlan]]) -> NumberBlock:
        def column_of(kind: type, value: Callable[[Any], Any], default: float) -> np.ndarray | None:
            steps = [next((s for s in c.steps if isinstance(s, kind)), None) for _, _, c in members]
            if all(s is None for s in steps):
                return None
            found = [default if s is None or value(s) is None else float(value(s)) for s in steps]
            return np.array(found, dtype=np.float64).reshape(-1, 1)

        return cls(
            tuple(i for i, _, _ in members), tuple(c.name for _, _, c in members),
            np.array([o for _, o, _ in members], dtype=np.intp),
            column_of(Impute, lambda s: s.fill, np.nan), column_of(Scale, lambda s: s.mean, 0.0),
            column_of(Scale, lambda s: s.scale, 1.0),
        )

    def fill(self, data: Mapping[str, Any], rows: int, matrix: np.ndarray) -> dict[str, np.ndarray] | None:
        """Write the block's columns into ``matrix``; their input as numbers, or None (nothing
        written) when the block cannot take this input."""
        columns = [data[name] for name in self.names]
        if any(type(c) is not list and type(c) is not tuple for c in columns):
            return None
        try:
            block = np.array(columns, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return None
        if block.shape != (len(self.names), rows) or np.isinf(block).any():
            return None
        given = dict(zip(self.names, block, strict=True))
        values = block
        if self.fills is not None:
            values = np.where(np.isnan(values), self.fills, values)
        if self.means is not None:
            values = values - self.means
        if self.scales is not None:
            values = values / self.scales
        matrix[:, self.offsets] = values.T
        return given


def _value_at(column: Encoded | np.ndarray, row: int) -> Any:
    if isinstance(column, Encoded):
        return column.dictionary[row if column.codes is None else column.codes[row]]
    return column[row]


class Refusals:
    """The rows a plan run refuses so far, the first reason of each."""

    def __init__(self) -> None:
        self.found: dict[int, Refusal] = {}

    def add(self, mask: np.ndarray, field: str, reason: Callable[[int], str]) -> None:
        for row in np.flatnonzero(mask).tolist():
            if row not in self.found:
                self.found[row] = Refusal(row, field, reason(row))

    def check(self, values: np.ndarray, accepts: Accepts, step: str, field: str, given: np.ndarray) -> None:
        """Refuse the rows of ``values`` (one column, on its way into ``step``) it does not accept."""
        refused = accepts.refused(values)
        if refused is not None:
            self.add(refused, field, lambda row: accepts.reason(values[row], given[row].item(), step))

    def check_matrix(self, matrix: np.ndarray, accepts: Accepts, step: str, plan: InferencePlan,
                     given: Mapping[str, np.ndarray]) -> None:
        """The same for every column of the feature matrix (one pass when all is fine)."""
        if accepts.refused(matrix.reshape(-1)) is None:
            return
        for j, name in enumerate(plan.matrix_fields):
            if name in given:  # one-hot blocks hold only 0 and 1
                self.check(matrix[:, j], accepts, step, name, given[name])

    def raise_any(self) -> None:
        if self.found:
            raise RefusedRows(
                [self.found[row] for row in sorted(self.found)],
                hint="fix these values, or add a step that takes them (e.g. a SimpleImputer) and retrain",
            )


@dataclass(frozen=True)
class PlanResult:
    """Labels (or regression values) and, for classifiers, class probabilities (the score
    taken from them is the one rule's: :func:`conveyor.scoring.scores_of`)."""

    labels: np.ndarray
    proba: np.ndarray | None = None


@dataclass(frozen=True)
class InferencePlan:
    """The whole fitted pipeline as data: columns, matrix steps and a head."""

    columns: tuple[ColumnPlan, ...]
    head: LinearHead | EstimatorHead
    matrix_steps: tuple[MatrixScale, ...] = ()
    source: str = field(default="", compare=False)  # what was compiled, for logs
    # the feature matrix's memory order as scikit-learn has it: "F" where the estimator (or its
    # first column-wise step) converts the DataFrame itself (pandas hands it column-major), "C"
    # after a ColumnTransformer's hstack. BLAS sums in that order, which decides the result
    # where terms overflow (inf vs nan), so the plan's matches it.
    layout: Literal["C", "F"] = "C"

    @cached_property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def classes(self) -> np.ndarray | None:
        if isinstance(self.head, LinearHead):
            return self.head.classes
        return getattr(self.head.estimator, "classes_", None)

    @property
    def needs_sklearn(self) -> bool:
        """Whether running the plan imports scikit-learn (a final estimator kept as it is)."""
        return isinstance(self.head, EstimatorHead)

    @cached_property
    def matrix_fields(self) -> list[str]:
        """The input column behind each column of the feature matrix."""
        return [c.name for c in self.columns for _ in range(c.width)]

    def matrix(self, data: Mapping[str, Any], rows: int) -> np.ndarray:
        """The dense feature matrix the final estimator sees (RefusedRows: rows it refuses)."""
        refusals = Refusals()
        matrix = self._matrix(data, rows, refusals)
        refusals.raise_any()
        return matrix

    @cached_property
    def number_blocks(self) -> tuple[NumberBlock, ...]:
        """The numeric columns that run alike, as blocks of two or more (see :class:`NumberBlock`)."""
        groups: dict[tuple[type, ...], list[tuple[int, int, ColumnPlan]]] = {}
        offset = 0
        for index, column in enumerate(self.columns):
            kinds = NumberBlock.kinds(column)
            if kinds is not None:
                groups.setdefault(kinds, []).append((index, offset, column))
            offset += column.width
        return tuple(NumberBlock.of(members) for members in groups.values() if len(members) > 1)

    def _matrix(self, data: Mapping[str, Any], rows: int, refusals: Refusals) -> np.ndarray:
        matrix = np.zeros((rows, self.width), dtype=np.float64, order=self.layout)
        given: dict[str, np.ndarray] = {}
        done: set[int] = set()
        for block in self.number_blocks:
            taken = block.fill(data, rows, matrix)
            if taken is not None:
                given.update(taken)
                done.update(block.indexes)
        offset = 0
        for index, column in enumerate(self.columns):
            if index not in done:
                numbers = column.fill(data[column.name], matrix, offset, refusals)
                if numbers is not None:
                    given[column.name] = numbers
            offset += column.width
        for step in self.matrix_steps:
            for j, column_step in enumerate(step.steps):
                name = self.matrix_fields[j]
                if name in given:
                    refusals.check(matrix[:, j], column_step.accepts, column_step.label, name, given[name])
            matrix = step.apply(matrix)
        refusals.check_matrix(matrix, self.head.accepts, self.head.label, self, given)
        return matrix

    def run(self, data: Mapping[str, Any], rows: int | None = None) -> PlanResult:
        """Predict for ``rows`` rows of ``data`` (column name → column; a DataFrame works).
        Raises RefusedRows naming every row the fitted pipeline would raise on."""
        if rows is None:
            rows = len(data[self.columns[0].name]) if self.columns else 0
        labels, proba = self.head.run(self.matrix(data, rows))
        return PlanResult(labels, proba)
