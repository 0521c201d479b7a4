"""The registry view: a registered model another process creates meanwhile is no error;
Registry.page: versions newest first, a page at a time, every version on exactly one page."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlflow import MlflowClient

from conveyor.lifecycle.registry import Registry


def store_client(migrated_store: Path, tmp_path: Path) -> MlflowClient:
    """A client of a fresh copy of the migrated SQLite store."""
    uri = f"sqlite:///{shutil.copy(migrated_store, tmp_path / 'mlflow.db')}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class _LateLooker:
    """A real client whose first look finds no model: another process registers it between
    that look and this one's create (two first trains on an empty store)."""

    def __init__(self, client: MlflowClient) -> None:
        self._client, self._looked = client, False

    def __getattr__(self, name: str) -> object:
        return getattr(self._client, name)

    def get_registered_model(self, name: str) -> object:
        if not self._looked:
            self._looked = True
            self._client.create_registered_model(name)  # the other process wins the race
            return self._client.get_registered_model(f"{name}-missing")  # raises "not found"
        return self._client.get_registered_model(name)


def test_a_model_registered_by_another_process_meanwhile_is_taken_as_it_is(migrated_store: Path,
                                                                           tmp_path: Path) -> None:
    client = store_client(migrated_store, tmp_path)
    Registry(_LateLooker(client)).ensure_model("churn")  # type: ignore[arg-type]
    assert [model.name for model in client.search_registered_models()] == ["churn"]


def test_pages_cover_every_version_once_newest_first(tmp_path: Path, migrated_store: Path) -> None:
    client = store_client(migrated_store, tmp_path)
    client.create_registered_model("m")
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "roc_auc", 0.9)
    for _ in range(7):
        client.create_model_version("m", str(tmp_path / "model"), run_id=run.info.run_id)
    client.set_registered_model_alias("m", "prod", "3")
    registry = Registry(client)

    pages, token = [], None
    while True:
        page = registry.page("m", 3, token)
        pages.append([v.version for v in page.versions])
        token = page.next_token
        if token is None:
            break
    assert pages == [["7", "6", "5"], ["4", "3", "2"], ["1"]]
    assert isinstance(registry.page("m", 3).next_token, str)
    third = next(v for v in registry.page("m", 5, registry.page("m", 3).next_token).versions if v.version == "3")
    assert third.aliases == ["prod"] and third.metrics == {"roc_auc": 0.9}
    assert [v.version for v in registry.versions("m", limit=2)] == ["7", "6"]


def test_a_page_reads_the_metrics_of_each_versions_own_run(tmp_path: Path, migrated_store: Path) -> None:
    client = store_client(migrated_store, tmp_path)
    client.create_registered_model("m")
    training = client.create_experiment("train", artifact_location=str(tmp_path / "a"))
    elsewhere = client.create_experiment("other", artifact_location=str(tmp_path / "b"))
    for i in range(6):  # versions 1..6, each of its own run; v5's run in another experiment
        run = client.create_run(elsewhere if i == 4 else training)
        client.log_metric(run.info.run_id, "f1", i / 10)
        client.create_model_version("m", str(tmp_path / "model"), run_id=run.info.run_id)
    gone = client.get_model_version("m", "2").run_id
    client.delete_run(gone)

    page = Registry(client).page("m", 10)
    assert {v.version: v.metrics.get("f1") for v in page.versions} == {
        "6": 0.5, "5": 0.4, "4": 0.3, "3": 0.2, "2": 0.1, "1": 0.0}
