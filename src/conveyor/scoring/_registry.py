"""Registry look-ups through an explicit client, failing with conveyor's RegistryError (the
lifecycle's Registry uses the same ones)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.core.errors import RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """The registry's record of one version (RegistryError when there is no such version)."""
    from mlflow.exceptions import MlflowException


    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if not_found(exc):
            raise RegistryError(
                f"model {name!r} has no version {version}", hint=f"list versions with `conveyor models {name}`"
            ) from None
        raise


def registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    from mlflow.exceptions import MlflowException


    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if not_found(exc):
            raise RegistryError(
                f"no registered model named {name!r}",
                hint="train it first with `conveyor train`, or check the name and --env",
            ) from None
        raise


def not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()
