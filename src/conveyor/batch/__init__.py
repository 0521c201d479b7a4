"""Batch scoring: ``predict(project, "churn@prod", input, output)`` on the local Arrow engine
or Spark, with an atomic, resumable commit of Parquet parts and a manifest."""

from conveyor.batch.errors import (
    BadRowError,
    EndpointError,
    EngineError,
    HookError,
    InputError,
    ModelRefError,
    OutputError,
    SchemaMismatchError,
)
from conveyor.batch.job import BatchResult, predict
from conveyor.batch.manifest import Manifest, PartResult
from conveyor.batch.reference import ModelRef

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
