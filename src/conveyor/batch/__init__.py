"""Batch scoring: ``predict(project, "churn@prod", input, output)`` on the local Arrow engine
or Spark, with an atomic, resumable commit of Parquet parts and a manifest."""

from typing import TYPE_CHECKING

from conveyor.batch.manifest import Manifest, PartResult
from conveyor.core.errors import (
    BadRowError,
    EndpointError,
    EngineError,
    HookError,
    InputError,
    ModelRefError,
    OutputError,
    SchemaMismatchError,
)
from conveyor.core.refs import ModelRef

if TYPE_CHECKING:
    from conveyor.batch.job import BatchResult, predict


def __getattr__(name: str) -> object:
    """``predict`` and ``BatchResult`` load the job module (config, registry) on first use, so
    scoring worker processes, which import this package, never pay for it."""
    if name in ("predict", "BatchResult"):
        from conveyor.batch import job

        return getattr(job, name)
    raise AttributeError(f"module 'conveyor.batch' has no attribute {name!r}")

__all__ = [
    "BadRowError",
    "BatchResult",
    "EndpointError",
    "EngineError",
    "HookError",
    "InputError",
    "Manifest",
    "ModelRef",
    "ModelRefError",
    "OutputError",
    "PartResult",
    "SchemaMismatchError",
    "predict",
]
