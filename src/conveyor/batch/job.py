"""``predict``: one batch run from model reference to committed output."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from conveyor.batch.commit import OutputStore
from conveyor.batch.endpoint import EndpointSettings
from conveyor.batch.engines.base import Engine, RunPlan
from conveyor.batch.manifest import Manifest
from conveyor.batch.pipeline import model_columns
from conveyor.batch.profiling import NoProfiles, profiler_for
from conveyor.batch.progress import RowProgress, SilentProgress
from conveyor.batch.validation import check_schema
from conveyor.batch.worker import PartSpec
from conveyor.core.config.schema import BatchSpec
from conveyor.core.errors import InputError, UsageError
from conveyor.core.output import has_slot_placeholder
from conveyor.core.refs import ModelRef
from conveyor.data import Source, SourceError, open_source
from conveyor.lifecycle.gate import FAILED
from conveyor.scoring import (
    RegisteredVersion,
    load_version,
    pack,
    payload_key,
    read_schema,
    resolve,
)

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext

EngineName = Literal["local", "spark"]


@dataclass
class BatchResult:
    """The committed manifest, where it is, and whether this call did any scoring."""

    manifest: Manifest
    manifest_path: str
    already_committed: bool = False

    @property
    def warnings(self) -> list[str]:
        """What the caller should see on stderr (also in the manifest's ``extra``)."""
        return list(self.manifest.extra.get("warnings", []))

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "model": m.model,
            "output": m.output,
            "manifest": self.manifest_path,
            "engine": m.engine,
            "rows_in": m.rows_in,
            "rows_out": m.rows_out,
            "rejected": m.rejected,
            "parts": len(m.parts),
            "resumed_parts": m.resumed_parts,
            "duration_s": m.duration_s,
            "rows_per_s": round(m.rows_in / m.duration_s) if m.duration_s > 0 else None,
            "already_committed": self.already_committed,
            "warnings": self.warnings,
        }


def predict(
    project: LifecycleContext,
    model: str,
    input: str | None = None,
    output: str | None = None,
    *,
    engine: EngineName | Engine = "local",
    master: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    via_endpoint: str | None = None,
    batch_size: int | None = None,
    on_bad_rows: Literal["fail", "reject"] | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: RowProgress | None = None,
) -> BatchResult:
    """Score ``input`` with ``model`` (``churn@prod``, ``churn@latest``, ``churn@v3``) into ``output``.

    Settings not given here come from the config's ``batch`` section. The output is committed
    with a manifest only when every part succeeded; ``resume`` continues an interrupted run.
    """
    started = time.perf_counter()
    started_at = _now()
    settings = project.config.batch or BatchSpec()
    input_url = input or settings.input
    output_url = output or settings.output
    if not input_url or not output_url:
        raise UsageError(
            "batch scoring needs an input and an output",
            hint="pass --input and --output, or set batch.input and batch.output in conveyor.yaml",
        )
    if has_slot_placeholder(output_url):
        raise UsageError(
            f"the output {output_url} has a {{slot}}/{{date}} placeholder, which only "
            "`conveyor scheduler` fills in",
            hint="pass --output with a plain folder or URL",
        )
    options = {**settings.storage_options, **(storage_options or {})}
    size = batch_size or settings.batch_size
    policy = on_bad_rows or settings.on_bad_rows

    ref = ModelRef.parse(model)
    runner = _engine(engine, project, master, workers)
    try:
        if via_endpoint is None:  # the workers start, and import, while MLflow loads
            runner.prepare(_parts_hint(input_url, settings, options, size))
        resolved = resolve(project.client, ref, project.config.stages)
        warnings = _gate_warnings(resolved)
        fallback = project.config.features.inputs
        inputs = read_schema(project.client, resolved, fallback).fields
        source = _open_input(input_url, settings, options, inputs)
        for where, schema in source.file_schemas():
            check_schema(schema, inputs, where)
        fingerprint = source.fingerprint()

        endpoint = None
        if via_endpoint:
            e = settings.endpoint
            endpoint = EndpointSettings(via_endpoint, e.concurrency, e.retries, e.timeout_s, e.rows_per_request,
                                        probabilities=project.config.task == "classification")
            endpoint.invocations  # noqa: B018 - validate the URL before any work
        hooks = {step: ref_ for step in ("preprocess", "score", "postprocess") if (ref_ := getattr(settings, step))}
        run_key = {
            "model": resolved.to_dict(),
            "input": {"url": input_url, **fingerprint},
            "engine": runner.name,
            "batch_size": size,
            "policy": policy,
            "keep": settings.keep,
            "hooks": hooks,
            "endpoint": via_endpoint,
        }
        store = OutputStore(output_url, options)
        if resume:
            store.finish_interrupted_commit()  # killed after its manifest: whole, now in place
            existing = store.committed_manifest()
            if existing is not None and existing.model == resolved.to_dict() and existing.input.get("sha256") == fingerprint["sha256"]:
                return BatchResult(existing, store._path("_manifest.json"), already_committed=True)
        done = store.prepare(run_key, resume)

        if endpoint is None:
            runner.prepare(_parts_to_score(source, size, done))  # started above unless it could not tell
        scorer = None
        if endpoint is None:  # the plan logged at training, else compiled now, else the model;
            # a score hook gets the model itself
            scorer = load_version(project.client, resolved.name, resolved.version, fallback, native="score" in hooks)
        payload = None if scorer is None else pack(scorer)
        profiler = profiler_for(project.client, resolved.run_id, [c.name for c in inputs])
        spec = PartSpec(
            key=payload_key(payload) if payload is not None else f"endpoint:{via_endpoint}",
            columns=inputs,
            model=model_columns(resolved.to_dict()),
            output=store,
            policy=policy,
            keep=None if settings.keep is None else tuple(settings.keep),
            project_dir=str(project.path),
            hooks=hooks,
            endpoint=endpoint,
            profiler=profiler,
        )
        plan = RunPlan(source, spec, payload, size, done, progress or SilentProgress())
        parts = runner.run(plan)
        profiles = store.merge_profiles(profiler, parts)
        manifest = Manifest(
            model=resolved.to_dict(),
            # A location from a ${VAR} (a signed URL, a bucket with a key in it) is masked.
            input=project.loaded.secrets.redact_tree({"url": input_url, "format": source.format, **fingerprint}),
            output=project.loaded.secrets.redact(output_url),
            engine=runner.name,
            policy=policy,
            batch_size=size,
            parts=parts,
            started_at=started_at,
            committed_at=_now(),
            duration_s=round(time.perf_counter() - started, 3),
            resumed_parts=len(done),
            endpoint=via_endpoint,
            profiles=profiles,
            extra={
                **({"scoring": scorer.describe()} if scorer is not None else {}),
                **({"warnings": warnings} if warnings else {}),
                **({"profiles": profiler.reason} if isinstance(profiler, NoProfiles) else {}),
            },
        )
        path = store.commit(manifest)
        return BatchResult(manifest, path)
    finally:
        runner.close()


def _gate_warnings(resolved: RegisteredVersion) -> list[str]:
    """``@latest`` (or ``@vN``) may name a version that failed the quality gate: say so."""
    if resolved.gate != FAILED:
        return []
    warning = (f"{resolved.name} v{resolved.version} ({resolved.to_dict()['ref']}) failed the quality "
               f"gate; scoring with it anyway (name a stage, e.g. {resolved.name}@prod, to score only "
               "promoted versions)")
    return [warning]


def _open_input(url: str, settings: BatchSpec, options: dict[str, Any], inputs: Any) -> Source:
    """The input as a source; numeric and text model columns of CSV are read as strings (the
    per-row checks coerce them)."""
    text = [c.name for c in inputs if c.numeric or c.text]
    try:
        return open_source(url, format=settings.format, storage_options=options, text_columns=text)
    except SourceError as exc:
        raise InputError(f"input: {exc.message}",
                         hint=exc.hint or "check --input (a file, a folder or a glob)") from None


def _parts_hint(url: str, settings: BatchSpec, options: dict[str, Any], batch_size: int) -> int | None:
    """The number of parts from the Parquet footers alone, before connecting to the store
    (None when it cannot tell: CSV, or an input reported as bad further on)."""
    try:
        total = open_source(url, format=settings.format, storage_options=options).total_rows()
    except Exception:  # noqa: BLE001 - opened again, and any error reported, after the model resolves
        return None
    return None if total is None else -(-total // batch_size)


def _parts_to_score(source: Source, batch_size: int, done: dict[int, Any]) -> int | None:
    total = source.total_rows()
    return None if total is None else max(0, -(-total // batch_size) - len(done))


def _engine(engine: EngineName | Engine, project: LifecycleContext, master: str | None, workers: int | None) -> Engine:
    if not isinstance(engine, str):
        return engine
    if engine == "local":
        from conveyor.batch.engines.local import LocalEngine

        settings = project.config.batch or BatchSpec()
        return LocalEngine(workers=workers or settings.workers)
    if engine == "spark":
        from conveyor.batch.engines.spark import SparkEngine

        runtime = project.config.runtime
        spark = runtime.spark if runtime is not None else None
        return SparkEngine.from_settings(spark, master=master or project.loaded.environment.spark_master)
    raise UsageError(f"unknown engine {engine!r}", hint="use --engine local or --engine spark")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
