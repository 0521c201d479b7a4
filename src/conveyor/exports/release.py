"""`conveyor release --env STAND`: the CI pipeline of a project in one command.

    tests     the project's own tests (``tests/`` or ``test_*.py``), if it has any
    pack      the environment pack of the version the stand serves (built, or reused when
              an identical one is stored; ``--pack URI`` names one instead)
    export    the DAG files (stand with ``dags``) and manifests (stand with ``manifests``),
              all rendered and checked before anything is published
    publish   each file to its folder (any fsspec URL), the SparkApplications' driver
              program to the stand's artifact store; a file whose bytes are already there is
              left alone, so a release run again changes nothing
    remove    the files of pipelines no longer exported (a schedule taken out of the config)
    record    one audit event ``release``: the version, the pack and its SHA-256, every
              file's SHA-256 and whether it changed, the files removed

A failure before ``publish`` (tests, pack, a setting a schema rejects) publishes nothing. Each
file is written whole, but an upload that fails part-way through ``publish`` leaves the files
before it published (object stores have no multi-file transaction): the release is then not
recorded, and running it again publishes the rest. ``dry_run`` stops after ``export`` and says
what would be published.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import ConveyorError, ReleaseError, UsageError
from conveyor.exports.airflow import SPARK_SUFFIX
from conveyor.exports.files import digest
from conveyor.exports.plan import (
    ENTRYPOINT,
    PIPELINES,
    RETRAIN,
    ExportPlan,
    entrypoint_location,
    export_plan,
)

if TYPE_CHECKING:
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter


@dataclass
class Published:
    target: str  # the URL the file goes to
    sha256: str
    changed: bool | None = None  # None: not published (dry run)


@dataclass
class ReleaseResult:
    model: str
    env: str
    version: str | None
    pack_uri: str | None
    pack_sha256: str | None
    tests: str  # passed | none | skipped
    files: list[Published] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # files of pipelines no longer exported
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed(self) -> int:
        return sum(1 for f in self.files if f.changed)


@dataclass(frozen=True)
class ReleaseOptions:
    dry_run: bool = False
    run_tests: bool = True
    pack_uri: str | None = None  # use this pack instead of packing the served version


def release(context: LifecycleContext, audit: AuditLog, options: ReleaseOptions, reporter: Reporter) -> ReleaseResult:
    loaded = context.loaded
    environment = loaded.environment
    if environment.dags is None and environment.manifests is None:
        raise UsageError(
            f"stand {loaded.env_name!r} has nowhere to publish to",
            hint=f"set environments.{loaded.env_name}.dags (Airflow's DAG folder) and/or .manifests",
        )
    step = reporter.step
    tests = "skipped"
    if options.run_tests:
        with step("the project's tests"):
            tests = _run_tests(loaded.project_dir)
    version, pack_uri, pack_sha = None, options.pack_uri, None
    if pack_uri is None:
        with step("the environment pack of the served version"):
            version, pack_uri, pack_sha = _pack(context, reporter, options.dry_run)
    with step("render and check the exports"):
        plan = export_plan(loaded, pack_uri=pack_uri)
        outgoing = _render(plan, loaded.environment.dags, loaded.environment.manifests)
        outgoing[entrypoint_location(loaded)] = (Path(__file__).with_name(ENTRYPOINT)).read_text(encoding="utf-8")
    stale = _stale(plan, loaded.environment.dags, loaded.environment.manifests, outgoing)
    result = ReleaseResult(plan.model, plan.env, version, pack_uri, pack_sha, tests,
                           [Published(target, digest(text)) for target, text in sorted(outgoing.items())],
                           stale, list(plan.skipped), options.dry_run)
    if options.dry_run:
        return result
    with step("publish"):
        for published in result.files:
            published.changed = _publish(published.target, outgoing[published.target], published.sha256)
        for target in stale:
            _remove(target)
    from conveyor.lifecycle.audit import AuditEvent

    audit.append(AuditEvent("release", plan.model, plan.env, None, version, environment=plan.env,
                            reason=f"{result.changed} of {len(result.files)} files changed",
                            release=result.to_dict()))
    return result


def _run_tests(project: Path) -> str:
    found = (project / "tests").is_dir() or any(project.glob("test_*.py"))
    if not found:
        return "none"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.strip().splitlines()[-5:])
        raise ReleaseError(f"the project's tests failed (pytest exit {done.returncode}); nothing was published:\n{tail}",
                           hint=f"run `python -m pytest` in {project} and fix them")
    return "passed"


def _pack(context: LifecycleContext, reporter: Reporter, dry_run: bool) -> tuple[str | None, str | None, str | None]:
    """The served version and its pack (built or reused); none before any version exists."""
    from conveyor.core import tags
    from conveyor.jobs.packs import pack

    name = context.name
    served = _served_version(context)
    if served is None:
        return None, None, None  # nothing registered yet: the tasks run with the image's conveyor
    if dry_run:  # the recorded pack, or a stand-in for the one the release would build
        recorded = context.client.get_model_version(name, served).tags or {}
        uri = recorded.get(tags.PACK_URI) or f"<pack of {name} v{served}, built by the release>"
        return served, uri, recorded.get(tags.PACK_SHA256)
    try:
        built = pack(context, name, served, reporter)
    except ConveyorError as exc:
        raise ReleaseError(f"the pack of {name} v{served} failed: {exc.message}; nothing was published",
                           hint=exc.hint) from None
    return built.version, built.uri, built.sha256


def _served_version(context: LifecycleContext) -> str | None:
    """The holder of the last stage that has one (the version the stand's jobs serve)."""
    try:
        for stage in reversed(context.config.stages):
            holder = context.registry.alias_holder(context.name, stage)
            if holder is not None:
                return str(holder)
    except ConveyorError:
        return None  # the model is not registered yet
    return None


def _render(plan: ExportPlan, dags: str | None, manifests: str | None) -> dict[str, str]:
    from conveyor.exports.airflow import airflow_files
    from conveyor.exports.k8s import k8s_files

    outgoing: dict[str, str] = {}
    if dags is not None:
        outgoing |= {f"{dags.rstrip('/')}/{name}": text for name, text in airflow_files(plan).items()}
    if manifests is not None:
        outgoing |= {f"{manifests.rstrip('/')}/{name}": text for name, text in k8s_files(plan).items()}
    return outgoing


def _stale(plan: ExportPlan, dags: str | None, manifests: str | None, outgoing: dict[str, str]) -> list[str]:
    """Published files of this model and stand that the plan no longer writes (a pipeline that
    lost its schedule): removed, so Airflow or the cluster stops running them."""
    import fsspec

    names: list[str] = []
    pipelines = (*PIPELINES, RETRAIN)
    if dags is not None:
        names += [f"{dags.rstrip('/')}/{plan.dag_id(p)}{suffix}" for p in pipelines for suffix in (".py", SPARK_SUFFIX)]
    if manifests is not None:
        names += [f"{manifests.rstrip('/')}/{plan.object_name(p)}.{kind}.yaml"
                  for p in PIPELINES for kind in ("sparkapplication", "cronjob")]
    stale = []
    for target in names:
        if target in outgoing:
            continue
        fs, path = fsspec.core.url_to_fs(target)
        if fs.exists(path):
            stale.append(target)
    return stale


def _remove(target: str) -> None:
    import fsspec

    fs, path = fsspec.core.url_to_fs(target)
    try:
        fs.rm_file(path)
    except OSError as exc:
        raise ReleaseError(f"could not remove {target}: {exc}") from None


def _publish(target: str, text: str, sha256: str) -> bool:
    """Write ``text`` to ``target`` unless the same bytes are there; whether it changed."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(target)
    try:
        if fs.exists(path) and digest(fs.cat_file(path).decode("utf-8")) == sha256:
            return False
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, text.encode("utf-8"))
    except OSError as exc:
        raise ReleaseError(f"could not publish {target}: {exc}") from None
    return True
