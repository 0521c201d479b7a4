"""Copy one registered version from one stand's registry into another's.

What a version is made of, copied in this order onto the target stand:

1. **run** — a run in the target's experiment of the model's name holding the source run's
   params, metrics and tags, tagged ``conveyor.copy.state=incomplete`` and owned by this
   process (a killed copy's run is reaped KILLED by the next command on that stand);
2. **artifacts** — every artifact of the source run (the inference plan, the baseline
   profile, the config snapshot: what scoring and monitoring read for a version);
3. **model** — the logged model (MLmodel, signature, input example, requirements, the model
   files) as a logged model of the target run;
4. **pack** — the environment pack named by ``conveyor.pack.uri``, when the version has one
   (:mod:`conveyor.lifecycle.pack_copy`: SHA-256 verified, the tag rewritten for the target);
5. **register** — the registered model, when the target has none yet: created tagged
   ``conveyor.copy.state=incomplete`` (a killed copy's empty model says so, and the next
   attempt reuses it);
6. **version** — the registered version, created in one call with the source's gate tags
   and ``conveyor.lineage.source`` (registry, model, version and run it came from); the
   registered model's ``incomplete`` tag is removed then.

Only then is the run marked complete and finished. Until the last step nothing on the target
looks like a version: a failure removes what this attempt wrote (run, logged model, a pack it
created, a registered model it created that holds no version); what a killed attempt left (a
run still marked incomplete, its logged model) is removed by the next attempt, which reuses an
empty registered model a killed attempt created. A version carrying the lineage tag is complete, and promoting the same source
version again finds and reuses it.

``CONVEYOR_FAIL_COPY_AT=<step>`` (one of :data:`COPY_STEPS`) makes the copy fail at that step,
``<step>:kill`` kills the process there (SIGKILL): the fault-injection hooks the tests use.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.core.config.secrets import redact_uri_password
from conveyor.core.errors import ConveyorError, StandCopyError, StoreUnreachableError
from conveyor.core.packs import record_location
from conveyor.lifecycle.orphans import owner_tags
from conveyor.lifecycle.pack_copy import copy_pack
from conveyor.lifecycle.stands import Stand
from conveyor.stack.tracking import ensure_experiment

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger("conveyor.lifecycle")

FAIL_COPY_AT = "CONVEYOR_FAIL_COPY_AT"
COPY_STEPS = ("run", "artifacts", "model", "pack", "register", "version")
INCOMPLETE = "incomplete"
COMPLETE = "complete"
# version tags that are the source stand's own history, not the version's
_NOT_COPIED = ("conveyor.stage.", tags.PACK_URI, tags.LINEAGE_SOURCE)
_MAX_VERSIONS = 10_000


@dataclass(frozen=True)
class Lineage:
    """Where a copied version came from (the ``conveyor.lineage.source`` tag, as JSON)."""

    registry: str  # the source stand's registry URI, password masked
    env: str | None
    model: str
    version: str
    run_id: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> Lineage | None:
        try:
            data = json.loads(text or "")
            return cls(str(data["registry"]), data.get("env"), str(data["model"]),
                       str(data["version"]), str(data.get("run_id") or ""))
        except (ValueError, KeyError, TypeError):
            return None

    def same_source(self, other: Lineage | None) -> bool:
        """The same source version (the run id follows from it; env names may be renamed)."""
        return other is not None and (self.registry, self.model, self.version) == (
            other.registry, other.model, other.version)


@dataclass(frozen=True)
class CopiedVersion:
    """A version on the target stand and the source version it is a copy of."""

    version: str
    run_id: str
    lineage: Lineage
    reused: bool  # an earlier promotion had copied it already


def lineage_of(source: Stand, mv: ModelVersion) -> Lineage:
    return Lineage(redact_uri_password(source.stack.registry_uri), source.name, str(mv.name),
                   str(mv.version), str(mv.run_id or ""))


def find_copy(target: Stand, lineage: Lineage) -> ModelVersion | None:
    """The target's version copied from ``lineage``'s source version, if there is one."""
    from mlflow.exceptions import MlflowException

    try:
        found = target.client.search_model_versions(
            f"name = '{lineage.model}'", max_results=_MAX_VERSIONS)
    except MlflowException:
        return None  # no such registered model on the target yet
    for mv in found:
        if lineage.same_source(Lineage.parse((mv.tags or {}).get(tags.LINEAGE_SOURCE))):
            return mv
    return None


def copy_version(source: Stand, target: Stand, model: str, version: str) -> CopiedVersion:
    """The target's copy of ``model`` v``version`` of ``source``: found (an earlier copy) or
    made now. StandCopyError (StoreUnreachableError when a store stopped answering) says
    which step failed; nothing of this attempt is left looking like a version."""
    mv = source.registry.version(model, version)
    lineage = lineage_of(source, mv)
    existing = find_copy(target, lineage)
    if existing is not None:
        _finish_run(target.client, existing.run_id)
        return CopiedVersion(str(existing.version), str(existing.run_id or ""), lineage, reused=True)
    _remove_leftovers(target, lineage)
    attempt = _Attempt(source, target, mv, lineage)
    try:
        return attempt.run()
    except BaseException as exc:
        attempt.undo()
        if isinstance(exc, Exception):
            raise _failure(attempt, exc) from None
        raise


def _name_the_copy(mlmodel: Path, run_id: str, model_id: str) -> None:
    """The copied MLmodel names the target's run and logged model, not the source's (which
    the target stand does not have; the source is in conveyor.lineage.source)."""
    import yaml

    if not mlmodel.is_file():
        return
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    if "run_id" in spec:
        spec["run_id"] = run_id
    if "model_id" in spec:
        spec["model_id"] = model_id
    mlmodel.write_text(yaml.safe_dump(spec, default_flow_style=False, sort_keys=False), encoding="utf-8")


@dataclass
class _Attempt:
    """One attempt at copying a version; remembers what it wrote so it can take it back."""

    source: Stand
    target: Stand
    mv: ModelVersion
    lineage: Lineage
    step: str = COPY_STEPS[0]
    run_id: str | None = None
    model_id: str | None = None
    pack: str | None = None  # a pack object this attempt created (relative to the target store)
    created_model: bool = False

    @property
    def client(self) -> MlflowClient:
        return self.target.client

    def run(self) -> CopiedVersion:
        source_run = self.source.client.get_run(str(self.mv.run_id))
        with tempfile.TemporaryDirectory(prefix="conveyor-copy-") as folder:
            with self._step("run"):
                self.run_id = self._create_run(source_run)
            with self._step("artifacts"):
                self._copy_run_artifacts(Path(folder) / "run")
            with self._step("model"):
                self.model_id = self._copy_model(Path(folder) / "model", source_run)
            with self._step("pack"):
                version_tags = self._version_tags()
            with self._step("register"):
                self._ensure_registered_model()
            with self._step("version"):
                mv = self._create_version(version_tags)
        try:  # the version is complete from here on: nothing of it may be undone
            _finish_run(self.client, self.run_id)
        except Exception:  # noqa: BLE001 - the next promotion that reuses the copy finishes it
            log.warning("the copied run %s stays marked incomplete until the next promotion", self.run_id)
        return CopiedVersion(str(mv.version), self.run_id, self.lineage, reused=False)

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        self.step = name
        _injected_fault(name)
        yield

    def _create_run(self, source_run: Run) -> str:
        experiment = self.source.client.get_experiment(source_run.info.experiment_id)
        experiment_id = ensure_experiment(self.client, experiment.name, self.target.stack.mlflow_artifact_root)
        run_tags = {
            **{k: v for k, v in source_run.data.tags.items() if not k.startswith("conveyor.owner.")},
            **owner_tags(),
            tags.LINEAGE_SOURCE: self.lineage.to_json(),
            tags.COPY_STATE: INCOMPLETE,
        }
        run = self.client.create_run(experiment_id, start_time=source_run.info.start_time, tags=run_tags,
                                     run_name=source_run.info.run_name)
        run_id = str(run.info.run_id)
        self.run_id = run_id
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in source_run.data.params.items()]
        for start in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[start:start + 100])
        return run_id

    def _copy_run_artifacts(self, folder: Path) -> None:
        folder.mkdir()
        listed = self.source.client.list_artifacts(str(self.mv.run_id))
        if not listed:
            return
        local = self.source.client.download_artifacts(str(self.mv.run_id), "", str(folder))
        self.client.log_artifacts(str(self.run_id), local)

    def _copy_model(self, folder: Path, source_run: Run) -> str:
        """The logged model's files as a logged model of the target run (its id), with the
        source run's metrics linked to it."""
        import time

        import mlflow.artifacts
        from mlflow.entities import LoggedModelStatus, Metric

        folder.mkdir()
        uri = self.source.client.get_model_version_download_uri(self.mv.name, str(self.mv.version))
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(folder), tracking_uri=self.source.client.tracking_uri)
        experiment_id = self.client.get_run(str(self.run_id)).info.experiment_id
        name = _logged_model_name(self.source.client, self.mv)
        logged = self.client.create_logged_model(
            experiment_id, name=name, source_run_id=self.run_id,
            tags={tags.LINEAGE_SOURCE: self.lineage.to_json()})
        model_id = str(logged.model_id)
        self.model_id = model_id
        _name_the_copy(Path(local) / "MLmodel", str(self.run_id), model_id)
        self.client.log_model_artifacts(model_id, local)
        self.client.finalize_logged_model(model_id, LoggedModelStatus.READY)
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0, model_id=model_id) for k, v in source_run.data.metrics.items()]
        for start in range(0, len(metrics), 500):
            self.client.log_batch(str(self.run_id), metrics=metrics[start:start + 500])
        return model_id

    def _version_tags(self) -> dict[str, str]:
        """The source version's tags for the copy: gate verdict and lineage; the pack copied
        and its URI rewritten for the target stand."""
        source_tags = dict(self.mv.tags or {})
        out = {k: v for k, v in source_tags.items() if not k.startswith(_NOT_COPIED)}
        pack_uri = source_tags.get(tags.PACK_URI)
        if pack_uri:
            sha256 = source_tags.get(tags.PACK_SHA256)
            if not sha256:
                raise StandCopyError(
                    f"version {self.mv.version} names a pack ({pack_uri}) but no {tags.PACK_SHA256} "
                    "tag: its bytes cannot be verified",
                    hint="rebuild the pack with `conveyor pack`, then promote again")
            copied = copy_pack(self.source.artifacts, self.target.artifacts, pack_uri, sha256)
            if copied.created:
                self.pack = copied.relative
            out[tags.PACK_URI] = copied.uri
        out[tags.LINEAGE_SOURCE] = self.lineage.to_json()
        return out

    def _ensure_registered_model(self) -> None:
        """The target's registered model: created (tagged incomplete until it holds a version),
        or one a killed copy created and left empty, taken as this attempt's own."""
        from mlflow.exceptions import MlflowException

        name = str(self.mv.name)
        try:
            found = self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, tags={tags.COPY_STATE: INCOMPLETE},
                                                description=_description(self.source.client, name))
            self.created_model = True
            return
        self.created_model = (found.tags or {}).get(tags.COPY_STATE) == INCOMPLETE

    def _create_version(self, version_tags: dict[str, str]) -> ModelVersion:
        name = str(self.mv.name)
        source = self.client.get_logged_model(str(self.model_id)).artifact_location
        mv = self.client.create_model_version(
            name, source=source, run_id=self.run_id, tags=version_tags, model_id=self.model_id)
        if self.created_model:
            try:  # it holds a version now: whatever the tag says, undo keeps it
                self.client.delete_registered_model_tag(name, tags.COPY_STATE)
            except Exception:  # noqa: BLE001 - the next copy's tag check sees the version
                log.warning("the registered model %s stays tagged %s", name, tags.COPY_STATE)
        return mv

    def undo(self) -> None:
        """Take back what this attempt wrote (each part on its own: one that fails leaves the
        rest to the next attempt's clean-up)."""
        undo_steps: list[Any] = []
        if self.created_model:
            undo_steps.append(lambda: _delete_empty_model(self.client, str(self.mv.name)))
        if self.pack is not None:
            pack = self.pack  # its record first: without one, what is left is no pack
            undo_steps.append(lambda: self.target.artifacts.remove(record_location(pack)))
            undo_steps.append(lambda: self.target.artifacts.remove(pack))
        if self.model_id is not None:
            model_id = self.model_id
            undo_steps.append(lambda: _delete_logged_model(self.target, model_id))
        if self.run_id is not None:
            run_id = self.run_id
            undo_steps.append(lambda: _delete_run(self.target, run_id))
        for undo_step in undo_steps:
            try:
                undo_step()
            except Exception:  # noqa: BLE001,S112 - best effort; the next attempt cleans up
                continue


def _failure(attempt: _Attempt, exc: Exception) -> ConveyorError:
    """The error for a failed copy: which step, why, and what to retry."""
    where = (f"copying {attempt.mv.name!r} v{attempt.mv.version} from stand {attempt.source.label} to "
             f"stand {attempt.target.label} failed at step {attempt.step!r}")
    cause = exc.message if isinstance(exc, ConveyorError) else _first_line(exc)
    hint = ("fix the cause and promote again: the next attempt removes what is left of this one "
            "and copies again; nothing is promoted on the target until the copy is complete")
    if isinstance(exc, StoreUnreachableError) or _unreachable(exc):
        return StoreUnreachableError(f"{where}: {cause}", hint=hint)
    return StandCopyError(f"{where}: {cause}", hint=exc.hint if isinstance(exc, ConveyorError) and exc.hint else hint)


def _remove_leftovers(target: Stand, lineage: Lineage) -> None:
    """Delete runs a killed earlier attempt left marked incomplete for the same source."""
    experiment = target.client.get_experiment_by_name(lineage.model)
    if experiment is None:
        return
    runs = target.client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{tags.COPY_STATE}` = '{INCOMPLETE}'", max_results=1000)
    for run in runs:
        if lineage.same_source(Lineage.parse(run.data.tags.get(tags.LINEAGE_SOURCE))):
            for model in target.client.search_logged_models(
                    experiment_ids=[experiment.experiment_id],
                    filter_string=f"source_run_id = '{run.info.run_id}'"):
                _delete_logged_model(target, model.model_id)
            _delete_run(target, run.info.run_id)


def _finish_run(client: MlflowClient, run_id: str | None) -> None:
    if not run_id:
        return
    run = client.get_run(run_id)
    if run.data.tags.get(tags.COPY_STATE) == COMPLETE and run.info.status == "FINISHED":
        return
    client.set_tag(run_id, tags.COPY_STATE, COMPLETE)
    client.set_terminated(run_id, status="FINISHED")


def _delete_run(target: Stand, run_id: str) -> None:
    """Delete a run of an unfinished copy, and its artifacts from the stand's store."""
    client = target.client
    uri = client.get_run(run_id).info.artifact_uri
    client.set_terminated(run_id, status="FAILED")
    client.delete_run(run_id)  # first: the registry must not show it, whatever the files do
    _remove_files(target, uri)


def _delete_logged_model(target: Stand, model_id: str) -> None:
    uri = target.client.get_logged_model(model_id).artifact_location
    target.client.delete_logged_model(model_id)
    _remove_files(target, uri)


def _remove_files(target: Stand, uri: str | None) -> None:
    """Remove the files under ``uri`` when it lies in the stand's artifact store (best
    effort: files nobody's registry names are only clutter)."""
    relative = target.artifacts.relative(uri) if uri else None
    if not relative:
        return
    try:
        target.artifacts.remove_tree(relative)
    except Exception:  # noqa: BLE001 - logged; the registry already shows nothing
        log.warning("could not remove %s from the stand's artifact store", uri)


def _delete_empty_model(client: MlflowClient, name: str) -> None:
    if not client.search_model_versions(f"name = '{name}'", max_results=1):
        client.delete_registered_model(name)


def _description(client: MlflowClient, name: str) -> str | None:
    try:
        description = client.get_registered_model(name).description
        return None if description is None else str(description)
    except Exception:  # noqa: BLE001 - the description is a nicety
        return None


def _logged_model_name(client: MlflowClient, mv: ModelVersion) -> str:
    model_id = getattr(mv, "model_id", None)
    if model_id:
        try:
            return str(client.get_logged_model(model_id).name)
        except Exception:  # noqa: BLE001 - the name is a nicety
            return "model"
    return "model"


def _unreachable(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connection refused", "could not connect", "endpointconnection",
                                         "operationalerror", "timed out", "max retries"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_uri_password(f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)


def _injected_fault(step: str) -> None:
    wanted = os.environ.get(FAIL_COPY_AT, "")
    name, _, how = wanted.partition(":")
    if name != step:
        return
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"injected failure ({FAIL_COPY_AT}={wanted})")
