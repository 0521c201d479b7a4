"""A model reference resolved against the registry, through the client given (no MLflow
global state): ``churn@prod`` → the version holding the alias now, ``@latest`` → the newest
version, ``@vN`` → version N."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.core.errors import ModelRefError, RegistryError
from conveyor.core.refs import ModelRef
from conveyor.scoring._registry import model_version, registered_model
from conveyor.scoring._scorer import RegisteredVersion

if TYPE_CHECKING:
    from mlflow import MlflowClient


def resolve(client: MlflowClient, ref: ModelRef | str) -> RegisteredVersion:
    """The version ``ref`` points at now. Raises ModelRefError or RegistryError."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    model = registered_model(client, ref.name)
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
