"""The registry view: a registered model another process creates meanwhile is no error."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlflow import MlflowClient

from conveyor.lifecycle.registry import Registry


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
    uri = f"sqlite:///{shutil.copy(migrated_store, tmp_path / 'mlflow.db')}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    Registry(_LateLooker(client)).ensure_model("churn")  # type: ignore[arg-type]
    assert [model.name for model in client.search_registered_models()] == ["churn"]
