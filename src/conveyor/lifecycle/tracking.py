"""Connect MLflow to the resolved stack and keep its output quiet and fast."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from conveyor.stack.reachability import check_tracking_store
from conveyor.stack.resolve import Stack

if TYPE_CHECKING:
    from mlflow import MlflowClient

_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.models",
                  "mlflow.store.model_registry")
# cloudpickle is chosen on purpose (user classes travel by value); skip its warning.
_ERRORS_ONLY = ("mlflow.sklearn",)


def connect(stack: Stack) -> MlflowClient:
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
    activate(stack)

    import mlflow

    return mlflow.MlflowClient(tracking_uri=stack.tracking_uri, registry_uri=stack.registry_uri)


def activate(stack: Stack) -> None:
    """Make the stack MLflow's current one for fluent calls (start_run, log_model, load)."""
    import mlflow

    # MLflow also exports these URIs as environment variables for subprocesses; undo that,
    # or the next project loaded in this process would silently inherit this one's store.
    saved = {name: os.environ.get(name) for name in _URI_VARIABLES}
    mlflow.set_tracking_uri(stack.tracking_uri)
    mlflow.set_registry_uri(stack.registry_uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str) -> str:
    """The experiment's id, created with artifacts in the stack's store if it is new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)
