"""An estimator that answers ``predict`` / ``predict_proba`` from its inference plan.

For code written against the scikit-learn estimator API (monitoring, metrics): it computes
the plan once per input frame and serves both calls from that, and it falls back to the
estimator itself whenever the plan cannot take the input, so errors and results stay the
estimator's own. Every other attribute is the estimator's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.inference.compile import compile_model
from conveyor.inference.plan import InferencePlan, PlanResult


class PlanEstimator:
    def __init__(self, estimator: Any, plan: InferencePlan) -> None:
        self.estimator = estimator
        self.plan = plan
        self._last: tuple[Any, PlanResult] | None = None  # (X itself, its result)

    @classmethod
    def wrap(cls, estimator: Any) -> Any:
        """The estimator behind its plan when it compiles, else the estimator unchanged."""
        plan = compile_model(estimator)
        return estimator if plan is None else cls(estimator, plan)

    def predict(self, X: Any) -> np.ndarray:
        result = self._run(X)
        return self.estimator.predict(X) if result is None else np.asarray(result.labels)

    def __getattr__(self, name: str) -> Any:
        """``predict_proba`` only where the estimator has one; everything else is the estimator's."""
        if name in ("estimator", "plan", "_last"):  # not set yet (copy, unpickling)
            raise AttributeError(name)
        if name == "predict_proba" and hasattr(self.estimator, "predict_proba"):
            return self._predict_proba
        return getattr(self.estimator, name)

    def _predict_proba(self, X: Any) -> np.ndarray:
        result = self._run(X)
        if result is None or result.proba is None:
            proba: np.ndarray = self.estimator.predict_proba(X)
            return proba
        return result.proba

    def _run(self, X: Any) -> PlanResult | None:
        if self._last is not None and self._last[0] is X:  # held, so never another object's id
            return self._last[1]
        try:
            result = self.plan.run(X, len(X))
        except Exception:  # noqa: BLE001 - the estimator decides (and raises its own error)
            return None
        self._last = (X, result)
        return result
