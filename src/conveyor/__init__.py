"""conveyor: one config per model — train, gate, register, promote on MLflow.

Heavy libraries (MLflow, pandas, scikit-learn) load only when a command needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.core.errors import (
    ConfigError,
    ConveyorError,
    DataError,
    EntrypointError,
    GateFailedError,
    PromotionError,
    RegistryError,
    StoreUnreachableError,
    TrainingError,
)

if TYPE_CHECKING:
    from conveyor.app import Project

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConveyorError",
    "DataError",
    "EntrypointError",
    "GateFailedError",
    "Project",
    "PromotionError",
    "RegistryError",
    "StoreUnreachableError",
    "TrainingError",
]


def __getattr__(name: str) -> Any:
    if name == "Project":
        from conveyor.app import Project

        return Project
    raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
