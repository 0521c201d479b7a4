"""Online serving: one endpoint per model, deployments with traffic split, shadow, canary
rollout, live swaps, micro-batching, MLflow and Open Inference Protocol v2.

The names below are imported when first used: `conveyor serve`'s supervisor imports
`conveyor.serving.server` without the HTTP app, numpy or the scoring core."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.serving.app import create_app
    from conveyor.serving.context import ServingContext
    from conveyor.serving.router import Router
    from conveyor.serving.server import ServeOptions, run
    from conveyor.serving.service import Service, build_service

_WHERE = {
    "create_app": "app", "ServingContext": "context", "Router": "router", "ServeOptions": "server",
    "run": "server", "Service": "service", "build_service": "service",
}

__all__ = ["Router", "ServeOptions", "Service", "ServingContext", "build_service", "create_app", "run"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'conveyor.serving' has no attribute {name!r}")
    return getattr(import_module(f"conveyor.serving.{module}"), name)
