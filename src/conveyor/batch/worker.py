"""Scoring one part, the same way in a local worker process, a thread or a Spark task.

:class:`PartSpec` is what travels to a worker (plain data plus the pickled model);
:func:`context_for` turns it into a ready :class:`PartContext` once per process and caches it,
so the model is unpickled once per process however many parts the process scores. Local
worker processes read the model's bytes from a file the parent wrote, on their first task.
"""

from __future__ import annotations

import os
import resource
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.batch.commit import OutputStore
from conveyor.batch.manifest import PartResult
from conveyor.batch.pipeline import Pipeline, Policy
from conveyor.batch.profiling import NO_PROFILES, PartProfiler
from conveyor.core.errors import BadRowError, ConveyorError, HookError
from conveyor.data import RowGroup, Source
from conveyor.scoring import InputField, Scorer, unpack

if TYPE_CHECKING:
    import pyarrow as pa

    from conveyor.batch.endpoint import EndpointSettings


@dataclass(frozen=True)
class PartSpec:
    """Everything a worker needs to score parts; the scorer itself comes separately as bytes."""

    key: str
    columns: tuple[InputField, ...]
    model: dict[str, str]
    output: OutputStore
    policy: Policy = "fail"
    keep: tuple[str, ...] | None = None
    project_dir: str | None = None
    hooks: dict[str, str] = field(default_factory=dict)  # preprocess/score/postprocess → module.py:fn
    endpoint: EndpointSettings | None = None
    profiler: PartProfiler = NO_PROFILES  # built from the baseline's schema on the driver


@dataclass(frozen=True)
class Task:
    """Parts ``[first_part, first_part + parts)``, which one worker reads and scores itself."""

    first_part: int
    parts: int
    groups: tuple[RowGroup, ...]  # the row groups that hold their rows

    def rows(self, batch_size: int) -> tuple[int, int]:
        """The task's rows ``[start, stop)`` of the whole input."""
        start = self.first_part * batch_size
        return start, start + self.parts * batch_size


@dataclass(frozen=True)
class TaskInput:
    """Where a task's rows come from: the input, the batch size and the columns to read."""

    source: Source
    batch_size: int
    columns: tuple[str, ...] | None  # None: every column


@dataclass
class PartContext:
    pipeline: Pipeline
    output: OutputStore
    profiler: PartProfiler = NO_PROFILES

    def process(self, index: int, first_row: int, table: pa.Table) -> PartResult:
        if self.pipeline.carries_arrow:  # the input columns stay Arrow from read to write
            carried = self.pipeline.run_arrow(table, first_row)
            part = PartResult(index, first_row, table.num_rows, carried.output.num_rows, carried.rejected.num_rows)
            profile = self.profiler.profile(carried.inputs, carried.scores)
            self.output.write_part(part, carried.output, carried.rejected, carried.constants, profile)
            return part
        frame = table.to_pandas()
        scored = self.pipeline.run(frame, first_row)
        part = PartResult(index, first_row, len(frame), len(scored.output), len(scored.rejected))
        profile = self.profiler.profile(frame, scored.output)
        self.output.write_part(part, scored.output, scored.rejected, scored.constants, profile)
        return part

    def process_task(self, where: TaskInput, task: Task) -> list[PartResult]:
        """Read the task's rows part by part (never more than one part in memory) and score them."""
        start, stop = task.rows(where.batch_size)
        tables = where.source.read_rows(task.groups, start, stop, where.batch_size, where.columns)
        return [
            self.process(index, index * where.batch_size, table)
            for index, table in enumerate(tables, start=task.first_part)
        ]


_MODELS: dict[str, Scorer] = {}
_CONTEXTS: list[tuple[PartSpec, PartContext]] = []


def context_for(spec: PartSpec, model_payload: bytes | None = None, *, payload_path: str | None = None) -> PartContext:
    """The process-wide context for this spec: each model is unpickled once per process
    (from ``model_payload``, or read from ``payload_path`` the first time it is needed)."""
    for known, context in _CONTEXTS:
        if known == spec:
            return context
    if model_payload is None and payload_path is not None and spec.key not in _MODELS:
        model_payload = read_payload(payload_path)
    context = build_context(spec, model_payload)
    _CONTEXTS[:] = [*_CONTEXTS[-3:], (spec, context)]
    return context


def build_context(spec: PartSpec, model_payload: bytes | None) -> PartContext:
    from conveyor.batch.scoring import HookScorer, VersionScorer

    hooks = {step: _load_hook(ref, spec.project_dir) for step, ref in spec.hooks.items()}
    if spec.endpoint is not None:
        from conveyor.batch.endpoint import EndpointScorer

        scorer: Any = EndpointScorer(spec.endpoint, [c.name for c in spec.columns])
    else:
        if spec.key not in _MODELS:
            assert model_payload is not None, "a model payload is needed without an endpoint"
            _MODELS.clear()
            _MODELS[spec.key] = unpack(model_payload)
        model = _MODELS[spec.key]
        scorer = HookScorer(hooks["score"], model.estimator) if "score" in hooks else VersionScorer(model)
    pipeline = Pipeline(
        spec.columns,
        scorer,
        model=spec.model,
        policy=spec.policy,
        keep=spec.keep,
        preprocess=hooks.get("preprocess"),
        postprocess=hooks.get("postprocess"),
    )
    return PartContext(pipeline, spec.output, spec.profiler)


def _load_hook(reference: str, project_dir: str | None) -> Any:
    from conveyor.lifecycle.entrypoint import load_entrypoint

    return load_entrypoint(reference, Path(project_dir or "."))


# --- local worker processes -------------------------------------------------------------


def warm_up() -> int:
    """A no-op task that makes the pool start a worker, which imports what scoring needs
    (reading, an inference plan, profiling, writing) while the parent is still connecting to
    the store and loading the model."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401
    import scipy.special  # noqa: F401 - a classifier's sigmoid

    import conveyor.inference
    import conveyor.profiles  # noqa: F401

    worker_memory()
    return os.getpid()


_POOL_SET = False


def worker_memory() -> None:
    """Arrow buffers from the C allocator in worker processes: mimalloc's per-thread
    segments hold tens of MB more per process while reading, for no speed gain here."""
    global _POOL_SET
    if not _POOL_SET:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
        _POOL_SET = True


def read_payload(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def score_in_process(spec: PartSpec, payload_path: str | None, index: int, first_row: int,
                     table: pa.Table) -> tuple[str, Any]:
    """Score one part in a worker; errors come back as data (custom exceptions do not pickle)."""
    try:
        worker_memory()
        part = context_for(spec, payload_path=payload_path).process(index, first_row, table)
        return "ok", (part, os.getpid(), peak_rss_bytes())
    except BaseException as exc:  # noqa: BLE001 - report every failure to the parent
        return "error", error_info(exc)


def score_task_in_process(spec: PartSpec, payload_path: str | None, where: TaskInput,
                          task: Task) -> tuple[str, Any]:
    """Read and score one task in a worker; errors come back as data, as in :func:`score_in_process`."""
    try:
        worker_memory()
        parts = context_for(spec, payload_path=payload_path).process_task(where, task)
        return "ok", (parts, os.getpid(), peak_rss_bytes())
    except BaseException as exc:  # noqa: BLE001 - report every failure to the parent
        return "error", error_info(exc)


def peak_rss_bytes() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": getattr(exc, "message", str(exc)),
        "hint": getattr(exc, "hint", None),
        "traceback": traceback.format_exc(),
    }
    if isinstance(exc, BadRowError):
        info.update(row=exc.row, reason=exc.reason)
    if isinstance(exc, HookError):
        info["user_traceback"] = exc.user_traceback
    info["conveyor"] = isinstance(exc, ConveyorError)
    return info


def raise_error(info: dict[str, Any]) -> None:
    """Re-raise a worker's error in the parent as the same conveyor exception type."""
    from conveyor.core import errors
    from conveyor.core.errors import EngineError

    kind = info["type"]
    if kind == "BadRowError":
        raise BadRowError(info["message"], row=info["row"], reason=info["reason"], hint=info["hint"])
    if kind == "HookError":
        raise HookError(info["message"], user_traceback=info.get("user_traceback", ""), hint=info["hint"])
    cls = getattr(errors, kind, None)
    if info.get("conveyor") and isinstance(cls, type) and issubclass(cls, ConveyorError):
        try:
            rebuilt = cls(info["message"], hint=info["hint"])
        except TypeError:
            rebuilt = None
        if rebuilt is not None:
            raise rebuilt
    raise EngineError(
        f"a scoring worker failed: {kind}: {info['message']}",
        hint="the traceback above shows where; nothing was committed, rerun with --resume",
    ) from RuntimeError(info.get("traceback", ""))
