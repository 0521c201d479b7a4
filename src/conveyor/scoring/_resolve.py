"""A model reference resolved against the registry, through the client given (no MLflow
global state): ``churn@prod`` → the version holding the alias now, ``@latest`` → the newest
version, ``@vN`` → version N, a bare ``churn`` → the holder of the last stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.core import tags
from conveyor.core.errors import ModelRefError, NoStageHolder, RegistryError
from conveyor.core.refs import ModelRef
from conveyor.scoring._registry import model_version, registered_model
from conveyor.scoring._scorer import RegisteredVersion

if TYPE_CHECKING:
    from mlflow import MlflowClient


def resolve(client: MlflowClient, ref: ModelRef | str, stages: Sequence[str] = ()) -> RegisteredVersion:
    """The version ``ref`` points at now; a bare name needs the project's ``stages`` (its
    last one is meant). Raises ModelRefError, RegistryError or NoStageHolder."""
    ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
    model = registered_model(client, ref.name)
    aliases = {str(a): str(v) for a, v in (model.aliases or {}).items()}
    version: str | None
    if ref.kind == "last_stage":
        version = _last_stage_holder(ref.name, aliases, stages)
    elif ref.kind == "alias":
        version = aliases.get(str(ref.value))
        if version is None:
            raise NoStageHolder(
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
    return RegisteredVersion(ref.name, str(mv.version), str(mv.run_id or ""), ref, (mv.tags or {}).get(tags.GATE))


def _last_stage_holder(name: str, aliases: dict[str, str], stages: Sequence[str]) -> str:
    if not stages:
        raise ModelRefError(
            f"{name!r} names no stage and no project says which stage is last",
            hint=f"write {name}@STAGE (e.g. {name}@prod), {name}@latest or {name}@vN",
        )
    last = stages[-1]
    if last in aliases:
        return aliases[last]
    held = [f"{name}@{stage}" for stage in stages if stage in aliases]
    raise NoStageHolder(
        f"{name!r} means {name}@{last} (the last stage), and no version holds {last!r} yet",
        hint=f"promote one (`conveyor promote {name} --to {last}`), or name one explicitly: "
        + ", ".join([*held, f"{name}@latest", f"{name}@vN"]),
    )
