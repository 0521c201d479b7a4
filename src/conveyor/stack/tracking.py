"""One explicit MLflow client per stack, and the one place MLflow's fluent state is touched.

conveyor talks to MLflow through an :class:`mlflow.MlflowClient` built for one stack and
passed down; it never relies on MLflow's process-global tracking URI. A few MLflow APIs
(``mlflow.<flavor>.log_model``) only work on the fluent active run: :func:`fluent_run`
confines such a call — it takes a process-wide lock, points the fluent API at the client's
stores, resumes the run, and restores everything (URIs, their environment variables, the
active-run stack) before it releases the lock. Two projects on two stores can therefore
train in two threads of one process without either seeing the other's runs.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.stack.locks import schema_turn
from conveyor.stack.reachability import check_tracking_store
from conveyor.stack.resolve import Stack
from conveyor.stack.schema import schema_check_skipped

if TYPE_CHECKING:
    from mlflow import MlflowClient

_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.models",
                  "mlflow.store.model_registry")
# cloudpickle is chosen on purpose (user classes travel by value); skip its warning.
_ERRORS_ONLY = ("mlflow.sklearn",)
_FLUENT_LOCK = threading.RLock()


def connect(stack: Stack) -> MlflowClient:
    """A client for the stack's stores; fails fast if a store is unreachable."""
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

    # the tracking store starts in the constructor (creating a new database's tables, one
    # process at a time); an SQLite store at head skips MLflow's check
    with schema_turn(stack.tracking_uri), schema_check_skipped(stack.tracking_uri):
        client = mlflow.MlflowClient(tracking_uri=stack.tracking_uri, registry_uri=stack.registry_uri)
    if stack.registry_uri != stack.tracking_uri:
        with schema_turn(stack.registry_uri):  # the registry's store starts on its first call
            client.search_registered_models(max_results=1)
    return client


def next_page(found: Any) -> str | None:
    """The token of the page after a search's page (``PagedList.token``; some stores give it
    as bytes), as text; None on the last page."""
    token = getattr(found, "token", None)
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return str(token) if token else None


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str) -> str:
    """The experiment's id, created with artifacts in the stack's store if it is new. Two
    processes that both find it missing (the first trains on an empty store) both create it:
    the one the store refuses reads the other's."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException as exc:
        experiment = client.get_experiment_by_name(name) if already_exists(exc) else None
        if experiment is None:
            raise
        return str(experiment.experiment_id)


def already_exists(exc: Exception) -> bool:
    """MLflow's refusal to create what another caller created first."""
    return getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS"


@contextmanager
def fluent_scope(client: MlflowClient) -> Iterator[Any]:
    """MLflow's fluent module pointed at ``client``'s stores, for the APIs that resolve
    ``models:/`` URIs or log only through it; every global it touches is restored on exit."""
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _FLUENT_LOCK:
        saved_env = {name: os.environ.get(name) for name in _URI_VARIABLES}
        saved_tracking = tracking_utils._tracking_uri  # None when never set
        saved_registry = registry_utils._registry_uri
        active = fluent._active_run_stack.get()
        mlflow.set_tracking_uri(client.tracking_uri)
        mlflow.set_registry_uri(client._registry_uri or client.tracking_uri)
        fluent._active_run_stack.set([])
        try:
            yield mlflow
        finally:
            fluent._active_run_stack.set(active)
            # None puts back "never set"; mlflow handles it, its annotations say str only
            mlflow.set_tracking_uri(saved_tracking)  # type: ignore[arg-type]
            mlflow.set_registry_uri(saved_registry)  # type: ignore[arg-type]
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextmanager
def fluent_run(client: MlflowClient, run_id: str) -> Iterator[Any]:
    """:func:`fluent_scope` with ``run_id`` resumed as the active run (``log_model`` logs
    only to the active run); the run is left RUNNING for the caller to finish."""
    with fluent_scope(client) as mlflow:
        try:
            with mlflow.start_run(run_id=run_id):
                yield mlflow
        finally:
            client.update_run(run_id, status="RUNNING")  # start_run's exit finished it


class RunLog:
    """The calls training makes on one run (params, metrics, tags, artifacts), through the
    explicit client: the same method names as MLflow's fluent module, bound to ``run_id``."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in params.items()])

    def log_metrics(self, metrics: dict[str, float], model_id: str | None = None) -> None:
        """Step-0 metrics of the run (linked to the logged model ``model_id`` when given)."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, float(v), now, 0, model_id=model_id) for k, v in metrics.items()],
        )

    def set_tag(self, key: str, value: str) -> None:
        self.client.set_tag(self.run_id, key, value)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_dict(self, dictionary: dict[str, Any], artifact_file: str) -> None:
        self.client.log_dict(self.run_id, dictionary, artifact_file)

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)
