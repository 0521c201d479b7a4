"""Online serving: one endpoint per model, deployments with traffic split, shadow, canary
rollout, live swaps, micro-batching, MLflow and Open Inference Protocol v2."""

from conveyor.serving.app import create_app
from conveyor.serving.context import ServingContext
from conveyor.serving.router import Router
from conveyor.serving.server import ServeOptions, run
from conveyor.serving.service import Service, build_service

__all__ = ["Router", "ServeOptions", "Service", "ServingContext", "build_service", "create_app", "run"]
