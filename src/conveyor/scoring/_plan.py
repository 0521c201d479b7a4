"""Scoring with an inference plan: the one logged at training, or one compiled at load.

A logged plan needs no scikit-learn at all (unless its head kept a scikit-learn estimator).
A compiled one keeps its estimator, which decides whenever the plan cannot take the input;
batch workers get the plan alone (:meth:`CompiledScorer.portable`). Rows the plan refuses
(:class:`~conveyor.core.errors.RefusedRows`) are the rows the estimator raises on: the
refusal stands, named row by row, rather than the estimator's one error for the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.errors import RefusedRows
from conveyor.scoring._frames import is_frame
from conveyor.scoring._prediction import Prediction
from conveyor.scoring._scorer import UNREGISTERED, RegisteredVersion, Scorer

if TYPE_CHECKING:
    from conveyor.inference import InferencePlan
    from conveyor.scoring._estimator import EstimatorScorer
    from conveyor.scoring._schema import Columns, InputSchema


class PlanScorer(Scorer):
    """The plan logged at training. Its labels are the estimator's ``predict`` (a linear head
    computes them from the decision values as the estimator does; any other head calls the
    estimator)."""

    flavor = "plan"

    def __init__(
        self,
        plan: InferencePlan,
        schema: InputSchema,
        source: RegisteredVersion = UNREGISTERED,
        example: Columns | None = None,
    ) -> None:
        super().__init__(schema, source, example)
        self.plan = plan

    @property
    def classes(self) -> np.ndarray | None:
        """The plan's classes where its head gives probabilities (a kept estimator may not)."""
        head = getattr(self.plan.head, "estimator", None)
        if head is not None and not hasattr(head, "predict_proba"):
            return None
        return self.plan.classes

    @property
    def inline(self) -> bool:
        return not self.plan.needs_sklearn

    def predict(self, data: Any) -> Prediction:
        result = self.plan.run(data, len(data) if is_frame(data) else None)
        return Prediction(np.asarray(result.labels), result.proba, None if result.proba is None else self.classes)

    def describe(self) -> str:
        return f"inference plan ({self.plan.source})"


class CompiledScorer(PlanScorer):
    """A plan compiled from the estimator at load; the estimator decides whenever the plan
    cannot take the input, so errors and results stay the estimator's own."""

    flavor = "sklearn"

    def __init__(self, plan: InferencePlan, fallback: EstimatorScorer) -> None:
        super().__init__(plan, fallback.schema, fallback.source, fallback.example)
        self.fallback = fallback

    @property
    def estimator(self) -> Any:
        return self.fallback.estimator

    def predict(self, data: Any) -> Prediction:
        try:
            return super().predict(data)
        except RefusedRows:
            raise  # the rows the estimator refuses too, named row by row
        except Exception:  # noqa: BLE001 - the estimator decides (and raises its own error)
            return self.fallback.predict(data)

    def portable(self) -> Scorer:
        """The plan alone: workers then need no scikit-learn (same numbers)."""
        return PlanScorer(self.plan, self.schema, self.source)
