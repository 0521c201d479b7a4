"""An inference plan: read columns, run their steps, assemble the feature matrix, apply the head."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from conveyor.inference.columns import Encoded, encoded_values, numeric_values
from conveyor.inference.steps import (
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

    def fill(self, source: Any, matrix: np.ndarray, offset: int) -> None:
        column: Encoded | np.ndarray
        if self.encoded:
            column = encoded_values(source)
            for step in self.steps:  # compile lets only imputers reach a text column
                column = cast(Impute, step).apply(column)
        else:
            values = numeric_values(source)
            for step in self.steps:
                values = step.apply(values)
            column = values
        if self.encoder is None:
            matrix[:, offset] = column
            return
        positions = self.encoder.positions(column)
        rows = np.flatnonzero(positions >= 0)
        matrix[rows, offset + positions[rows]] = 1.0


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

    @property
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

    def matrix(self, data: Mapping[str, Any], rows: int) -> np.ndarray:
        """The dense feature matrix the final estimator sees."""
        matrix = np.zeros((rows, self.width), dtype=np.float64)
        offset = 0
        for column in self.columns:
            column.fill(data[column.name], matrix, offset)
            offset += column.width
        for step in self.matrix_steps:
            matrix = step.apply(matrix)
        return matrix

    def run(self, data: Mapping[str, Any], rows: int | None = None) -> PlanResult:
        """Predict for ``rows`` rows of ``data`` (column name → column; a DataFrame works)."""
        if rows is None:
            rows = len(data[self.columns[0].name]) if self.columns else 0
        labels, proba = self.head.run(self.matrix(data, rows))
        return PlanResult(labels, proba)
