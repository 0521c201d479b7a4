"""The pack job (a version's environment as a pack in the artifact store), and the packed-env
runner: any job spec run by the Python of a pack, fetched and checked first."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Literal

from conveyor.jobs.base import Job, JobResult, JobSpec

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter
    from conveyor.packs import PackResult


class PackSpec(JobSpec):
    kind: Literal["pack"] = "pack"
    model: str | None = None  # churn, churn@prod, churn@v3 (default: the project's model)
    version: str | None = None  # overrides the reference's selector


class PackJob(Job):
    spec = PackSpec

    def run(self, spec: PackSpec, context: LifecycleContext, reporter: Reporter) -> JobResult:
        return JobResult(spec.kind, result=pack(context, spec.model, spec.version, reporter).to_dict())


def pack(context: LifecycleContext, model: str | None, version: str | None,
         reporter: Reporter) -> PackResult:
    """Pack one version of ``model`` (a name or reference; ``version`` picks it by number)."""
    from conveyor.packs import PackRequest, PackStore, pack_version
    from conveyor.scoring import model_version, resolve
    from conveyor.stack.artifacts import ArtifactStore

    name = model or context.name
    if version is not None:
        target = name.split("@", 1)[0]
        number = str(model_version(context.client, target, version.lstrip("vV")).version)
    else:
        resolved = resolve(context.client, name, context.config.stages)
        target, number = resolved.name, resolved.version
    runtime = context.config.runtime
    request = PackRequest(target, number, context.path, runtime.python if runtime else None,
                          stand_extras(context))
    store = PackStore(ArtifactStore(context.stack.artifact_store))
    return pack_version(context.client, store, request, reporter)


def stand_extras(context: LifecycleContext) -> tuple[str, ...]:
    """conveyor's extras the project's stands need (every environment of the config, so a pack
    that moves to another stand still reaches its stores): s3 for s3:// artifact stores,
    postgres for PostgreSQL tracking or registry stores."""
    locations: list[str] = [context.stack.artifact_store, context.stack.tracking_uri, context.stack.registry_uri]
    for environment in context.config.environments.values():
        locations += [environment.artifact_store or "", environment.tracking_uri or "",
                      environment.registry_uri or ""]
    extras = set()
    for location in locations:
        if location.startswith("s3://"):
            extras.add("s3")
        if location.startswith("postgresql"):
            extras.add("postgres")
    return tuple(sorted(extras))


def run_in_pack(spec_json: str, folder: Path, *, quiet: bool = False) -> int:
    """Run a job spec with the pack's own Python (``python -m conveyor job run -``), with nothing
    of this process's virtualenv; its one JSON line goes to this process's stdout."""
    from conveyor.packs import clean_environment, pack_python

    command = [str(pack_python(folder)), "-m", "conveyor", "job", "run", "-", *(["--quiet"] if quiet else [])]
    done = subprocess.run(command, input=spec_json, text=True, env=clean_environment(
        {"CONVEYOR_IN_PACK": folder.name}), check=False)
    return done.returncode
