"""Connect MLflow to the resolved stack and keep its output quiet and fast."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from conveyor.stack.reachability import check_tracking_store
from conveyor.stack.resolve import Stack

if TYPE_CHECKING:
    from mlflow import MlflowClient

_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.models")
# cloudpickle is chosen on purpose (user classes travel by value); skip its warning.
_ERRORS_ONLY = ("mlflow.sklearn",)


def connect(stack: Stack) -> "MlflowClient":
    """Point MLflow at the stack and return a client; fails fast if the store is down."""
    # Bound network retries so an unreachable server is reported in seconds, not minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _ERRORS_ONLY:
        logging.getLogger(name).setLevel(logging.ERROR)
    check_tracking_store(stack.tracking_uri)
    if stack.registry_uri != stack.tracking_uri:
        check_tracking_store(stack.registry_uri)

    import mlflow

    mlflow.set_tracking_uri(stack.tracking_uri)
    mlflow.set_registry_uri(stack.registry_uri)
    return mlflow.MlflowClient(tracking_uri=stack.tracking_uri, registry_uri=stack.registry_uri)


def ensure_experiment(client: "MlflowClient", name: str, artifact_location: str) -> str:
    """The experiment's id, created with artifacts in the stack's store if it is new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)
