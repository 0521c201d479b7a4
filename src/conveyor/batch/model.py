"""Resolve a model reference in the registry and load the model once per process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.batch.reference import ModelRef
from conveyor.core.errors import ModelRefError, RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from conveyor.lifecycle.registry import Registry


@dataclass(frozen=True)
class InputColumn:
    """One model input column from the MLflow signature: name, MLflow type, required."""

    name: str
    type: str
    required: bool = True

    @property
    def numeric(self) -> bool:
        return self.type in ("double", "float", "long", "integer")

    @property
    def text(self) -> bool:
        return self.type == "string"


@dataclass(frozen=True)
class ResolvedModel:
    """A concrete registry version: what the manifest and the output columns record."""

    ref: ModelRef
    name: str
    version: str
    run_id: str
    uri: str
    inputs: tuple[InputColumn, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": str(self.ref),
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "uri": self.uri,
        }


def resolve_model(
    ref: ModelRef, registry: Registry, fallback_columns: list[str] | None = None
) -> ResolvedModel:
    """Find the version the reference points at now, and its input columns."""
    client = registry.client
    if ref.kind == "alias":
        version = registry.alias_holder(ref.name, str(ref.value))
        if version is None:
            raise ModelRefError(
                f"model {ref.name!r} has no version at stage {ref.value!r}",
                hint=f"promote one first (`conveyor promote {ref.name} --to {ref.value}`), "
                f"or use {ref.name}@latest",
            )
    elif ref.kind == "version":
        version = str(ref.value)
    else:
        version = _latest(client, registry, ref.name)
    mv = registry.version(ref.name, version)
    uri = f"models:/{ref.name}/{version}"
    inputs = _signature_inputs(client, uri) or tuple(InputColumn(c, "any") for c in fallback_columns or [])
    return ResolvedModel(ref, ref.name, version, str(mv.run_id or ""), uri, inputs)


def load_model(client: MlflowClient, resolved: ResolvedModel) -> Any:
    """The model object: the native sklearn estimator when there is one, else the pyfunc."""
    from conveyor.stack.tracking import fluent_scope

    with fluent_scope(client) as mlflow:
        info = mlflow.models.get_model_info(resolved.uri)
        if "sklearn" in (info.flavors or {}):
            return mlflow.sklearn.load_model(resolved.uri)
        return mlflow.pyfunc.load_model(resolved.uri)


def scoring_model(model: Any) -> Any:
    """The model's inference plan when it compiles (workers then need no scikit-learn and
    predict several times faster), else the model itself."""
    from conveyor.inference import compile_model

    return compile_model(model) or model


def describe_scoring(model: Any) -> str:
    """How parts are scored, for the manifest."""
    from conveyor.inference import InferencePlan

    if isinstance(model, InferencePlan):
        return f"inference plan ({model.source})"
    return f"estimator ({type(model).__name__})"


def pack_model(model: Any) -> bytes:
    """Bytes that rebuild the model in a worker without MLflow (cloudpickle)."""
    import cloudpickle

    return cloudpickle.dumps(model)


def unpack_model(payload: bytes) -> Any:
    import pickle

    return pickle.loads(payload)


def payload_key(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:16]


def _latest(client: MlflowClient, registry: Registry, name: str) -> str:
    registry.model_aliases(name)  # raises RegistryError for an unknown model
    found = client.search_model_versions(
        f"name = '{name}'", max_results=1, order_by=["version_number DESC"]
    )
    if not found:
        raise RegistryError(f"model {name!r} has no versions", hint="train it with `conveyor train`")
    return str(found[0].version)


def _signature_inputs(client: MlflowClient, uri: str) -> tuple[InputColumn, ...]:
    from conveyor.stack.tracking import fluent_scope

    with fluent_scope(client) as mlflow:
        signature = mlflow.models.get_model_info(uri).signature
    if signature is None or signature.inputs is None:
        return ()
    columns = []
    for spec in signature.inputs.inputs:
        name = getattr(spec, "name", None)
        if name is None:
            return ()  # a tensor signature names no columns
        kind = getattr(spec, "type", None)
        type_name = getattr(kind, "name", None) or str(kind)
        columns.append(InputColumn(name, str(type_name), bool(getattr(spec, "required", True))))
    return tuple(columns)
