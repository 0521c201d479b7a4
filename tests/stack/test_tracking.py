"""Explicit clients: two projects on two stores in one process never see each other."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.tracking._tracking_service import utils as tracking_utils

from conveyor.app import Project


def _train_and_promote(folder: Path, start: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        project = Project.load(folder)
        start.wait(timeout=60)
        project.train()
        project.promote("staging")
    except BaseException as exc:
        errors.append(exc)


def test_two_projects_trained_and_promoted_in_two_threads_stay_apart(
    make_project: Callable[..., Path],
) -> None:
    folders = [make_project("a"), make_project("b")]
    before = (tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI"))
    start, errors = threading.Barrier(2), []
    threads = [threading.Thread(target=_train_and_promote, args=(f, start, errors)) for f in folders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert errors == []

    for folder in folders:
        store = f"sqlite:///{(folder / '.conveyor' / 'mlflow.db').as_posix()}"
        client = MlflowClient(store, registry_uri=store)
        experiment = client.get_experiment_by_name("churn")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 1
        assert runs[0].info.artifact_uri.startswith((folder / ".conveyor").resolve().as_uri())
        versions = client.search_model_versions("name = 'churn'")
        assert [(str(v.version), v.run_id) for v in versions] == [("1", runs[0].info.run_id)]
        aliases = {k: str(v) for k, v in client.get_registered_model("churn").aliases.items()}
        assert aliases == {"dev": "1", "staging": "1"}
    # conveyor left MLflow's process-wide state as it found it
    assert (tracking_utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")) == before
    assert mlflow.active_run() is None


class _LateLooker:
    """A real client whose first look finds nothing: another process creates what it asked
    about between that look and its own create (the race of two first trains)."""

    def __init__(self, client: MlflowClient, create: Callable[[], object]) -> None:
        self._client, self._create, self._looked = client, create, False

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def get_experiment_by_name(self, name: str) -> object:
        if not self._looked:
            self._looked = True
            self._create()  # the other process wins the race
            return None
        return self._client.get_experiment_by_name(name)


def test_an_experiment_created_by_another_process_meanwhile_is_read_not_refused(migrated_store: Path,
                                                                                tmp_path: Path) -> None:
    from conveyor.stack.tracking import ensure_experiment

    uri = f"sqlite:///{shutil.copy(migrated_store, tmp_path / 'mlflow.db')}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = "churn"
    other: list[str] = []
    late = _LateLooker(client, lambda: other.append(client.create_experiment(name)))
    experiment_id = ensure_experiment(late, name, str(tmp_path))  # type: ignore[arg-type]
    assert other and experiment_id == other[0]
