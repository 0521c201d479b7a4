"""A model reference resolved against the registry, through the client given (no MLflow
global state): ``churn@prod`` → the version holding the alias now, ``@latest`` → the newest
version, ``@vN`` → version N."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.core.errors import ModelRefError, RegistryError
from conveyor.core.refs import ModelRef
from conveyor.scoring._scorer import RegisteredVersion

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel


def resolve(client: MlflowClient, ref: ModelRef | str) -> RegisteredVersion:
    """The version ``ref`` points at now. Raises ModelRefError or RegistryError."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    model = _registered_model(client, ref.name)
    if ref.kind == "alias":
        version = {str(a): str(v) for a, v in (model.aliases or {}).items()}.get(str(ref.value))
        if version is None:
            raise ModelRefError(
                f"model {ref.name!r} has no version at stage {ref.value!r}",
                hint=f"promote one first (`conveyor promote {ref.name} --to {ref.value}`), "
                f"or use {ref.name}@latest",
            )
    elif ref.kind == "version":
        version = str(ref.value)
    else:
        found = client.search_model_versions(f"name = '{ref.name}'", max_results=1, order_by=["version_number DESC"])
        if not found:
            raise RegistryError(f"model {ref.name!r} has no versions", hint="train it with `conveyor train`")
        version = str(found[0].version)
    mv = model_version(client, ref.name, version)
    return RegisteredVersion(ref.name, str(mv.version), str(mv.run_id or ""), ref)


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """The registry's record of one version (RegistryError when there is no such version)."""
    from mlflow.exceptions import MlflowException


    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _not_found(exc):
            raise RegistryError(
                f"model {name!r} has no version {version}", hint=f"list versions with `conveyor models {name}`"
            ) from None
        raise


def _registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    from mlflow.exceptions import MlflowException


    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if _not_found(exc):
            raise RegistryError(
                f"no registered model named {name!r}",
                hint="train it first with `conveyor train`, or check the name and --env",
            ) from None
        raise


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or "not found" in str(exc).lower()
