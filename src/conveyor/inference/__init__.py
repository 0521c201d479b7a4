"""Inference plans: fitted scikit-learn pipelines replayed with plain numpy.

``compile_model`` turns a supported pipeline (imputers, scalers, one-hot encoders, column
transformers, a linear final estimator) into an :class:`InferencePlan` that reads the input
columns once, works on dictionary-encoded categories instead of per-row Python strings, and
computes the same numbers as the estimator. Anything it does not know returns ``None`` and
callers keep using the estimator itself.
"""

from conveyor.inference.compile import compile_model, explain_unsupported
from conveyor.inference.plan import InferencePlan, PlanResult

__all__ = ["InferencePlan", "PlanResult", "compile_model", "explain_unsupported"]
