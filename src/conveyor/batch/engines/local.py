"""The local engine: score the input in N worker processes that read their own rows.

For Parquet input the parent plans tasks from the files' footers (runs of consecutive
parts, cut at row-group starts) and sends each worker only the plan; the worker streams
its rows part by part, scores and writes them, so no table crosses a process boundary and
memory stays bounded by the batch size, not the input size. The worker processes start (and
import what they need) while the parent is still loading the model (:meth:`LocalEngine.prepare`),
and read the model's bytes from a temporary file on their first task. CSV input (row count unknown
until read) and Parquet files with differing schemas are read as one stream by the parent,
with at most ``2 × workers`` parts in flight. Each worker process loads the model once
(pickled bytes, no MLflow import; an inference plan needs no scikit-learn either) and writes
its own Parquet parts.
With ``--via-endpoint`` the same loop runs threads instead (the work is network-bound).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import multiprocessing
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from conveyor.batch.engines.base import RunPlan
from conveyor.batch.manifest import PartResult
from conveyor.batch.worker import (
    PartContext,
    PartSpec,
    Task,
    TaskInput,
    context_for,
    error_info,
    peak_rss_bytes,
    raise_error,
    score_in_process,
    score_task_in_process,
    warm_up,
)
from conveyor.core.errors import EngineError
from conveyor.data import RowGroup
from conveyor.stack.processes import ProcessId, pid_alive

# A worker's young-generation collections every 100,000 allocations (Python's default: 700):
# it imports pandas and Arrow once and then holds few reference cycles.
WORKER_GC_THRESHOLD = (100_000, 20, 100)
TASKS_PER_WORKER = 3  # enough tasks that workers finish together
MAX_TASK_PARTS = 16  # progress and failure granularity


@dataclass
class LocalEngine:
    """``workers`` processes (default: CPU cores), or threads for endpoint scoring."""

    workers: int | None = None
    name: str = "local"
    parts_submitted: int = 0
    workers_used: int = 0
    worker_peak_rss: dict[int, int] = field(default_factory=dict)
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False)
    _pool_size: int = field(default=0, repr=False)
    _payload_file: str | None = field(default=None, repr=False)

    def prepare(self, parts: int | None) -> None:
        """Start the worker processes now (one per core, at most one per part), so that their
        start-up overlaps the parent's model load; ``run`` then uses them."""
        count = self.workers or os.cpu_count() or 1
        if parts is not None:
            count = min(count, parts)
        if count > 1 and self._pool is None:
            self._pool, self._pool_size = self._start_workers(count), count

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._cleanup()

    @staticmethod
    def _new_pool(workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=gc.set_threshold, initargs=WORKER_GC_THRESHOLD)

    def _start_workers(self, count: int) -> ProcessPoolExecutor:
        """A pool with all ``count`` workers started now (one warm-up task each), each with
        single-threaded BLAS/OpenMP: one process per core already, and nested threads made a
        part's matrix product ten times slower."""
        pool = self._new_pool(count)
        with child_environment(SINGLE_THREAD):
            for _ in range(count):  # the pool starts a process per task while none is idle
                pool.submit(warm_up)
        return pool

    def run(self, plan: RunPlan) -> list[PartResult]:
        groups = plan.source.row_groups()
        if groups is None:
            return self._run_stream(plan)
        return self._run_tasks(plan, groups)

    def _run_tasks(self, plan: RunPlan, groups: list[RowGroup]) -> list[PartResult]:
        """Parquet: workers read their own rows, task by task."""
        total = sum(g.rows for g in groups)
        wanted = self._wanted(plan)
        tasks = plan_tasks(groups, plan.batch_size, set(plan.done), wanted)
        workers = self._start(plan, total, wanted, len(tasks))
        plan.progress.advance(sum(p.rows_in for p in plan.done.values()))
        where = TaskInput(plan.source, plan.batch_size, columns_to_read(plan.spec, plan.source.schema().names))
        results: dict[int, PartResult] = dict(plan.done)
        executor, submit = self._executor(plan, workers, score_task_in_process, PartContext.process_task)
        pending: set[Future[Any]] = set()
        try:
            pending = {submit(executor, where, task) for task in tasks}
        except BaseException:
            self._abort(executor, pending, plan)
            raise
        self.parts_submitted += sum(task.parts for task in tasks)
        self._finish(executor, pending, results, plan)
        return [results[i] for i in sorted(results)]

    def _run_stream(self, plan: RunPlan) -> list[PartResult]:
        """CSV (or mixed Parquet schemas): the parent reads one stream and hands out tables."""
        results: dict[int, PartResult] = dict(plan.done)
        total = plan.source.total_rows()
        todo = None if total is None else math.ceil(total / plan.batch_size) - len(plan.done)
        workers = self._start(plan, total, self._wanted(plan), todo)
        executor, submit = self._executor(plan, workers, score_in_process, PartContext.process)
        pending: set[Future[Any]] = set()
        try:
            for index, table in enumerate(plan.source.batches(plan.batch_size)):
                if index in plan.done:
                    plan.progress.advance(table.num_rows)
                    continue
                pending.add(submit(executor, index, index * plan.batch_size, table))
                self.parts_submitted += 1
                if len(pending) >= 2 * workers:
                    pending = self._collect(pending, results, plan, FIRST_COMPLETED)
        except BaseException:
            self._abort(executor, pending, plan)
            raise
        self._finish(executor, pending, results, plan)
        return [results[i] for i in sorted(results)]

    def _wanted(self, plan: RunPlan) -> int:
        if plan.spec.endpoint is not None:
            return self.workers or plan.spec.endpoint.concurrency
        return self.workers or os.cpu_count() or 1

    def _start(self, plan: RunPlan, total: int | None, wanted: int, todo: int | None) -> int:
        workers = max(1, min(wanted, todo)) if todo is not None else wanted
        self.workers_used = workers
        kind = "thread" if plan.spec.endpoint else "worker"
        plan.progress.start(total, f"scoring with {workers} {kind}(s)")
        return workers

    def _executor(
        self, plan: RunPlan, workers: int, in_process: Callable[..., Any], here: Callable[..., Any]
    ) -> tuple[Executor, Callable[..., Future[Any]]]:
        """Worker processes running ``in_process``, or threads (endpoint, or one worker)
        running ``here`` with one context built in this process."""
        if plan.spec.endpoint is not None or workers == 1:
            context = context_for(plan.spec, plan.model_payload)  # in this process, once

            def run_here(*args: Any) -> tuple[str, Any]:
                try:
                    return "ok", (here(context, *args), os.getpid(), peak_rss_bytes())
                except BaseException as exc:  # noqa: BLE001
                    return "error", error_info(exc)

            pool: Executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conveyor-score")
            return pool, lambda ex, *args: ex.submit(run_here, *args)
        if self._pool is not None:  # started by prepare()
            pool, self.workers_used, self._pool = self._pool, self._pool_size, None
        else:
            pool = self._start_workers(workers)
        path = self._payload_file = write_payload(plan.model_payload)
        return pool, lambda ex, *args: ex.submit(in_process, plan.spec, path, *args)

    def _finish(self, executor: Executor, pending: set[Future[Any]], results: dict[int, PartResult],
                plan: RunPlan) -> None:
        try:
            self._collect(pending, results, plan, None)
        except BaseException:
            self._abort(executor, pending, plan)
            raise
        executor.shutdown(wait=True)
        self._cleanup()
        plan.progress.stop()

    def _abort(self, executor: Executor, pending: set[Future[Any]], plan: RunPlan) -> None:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
        self._cleanup()
        plan.progress.stop()

    def _cleanup(self) -> None:
        if self._payload_file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._payload_file)
            self._payload_file = None

    def _collect(
        self, pending: set[Future[Any]], results: dict[int, PartResult], plan: RunPlan, when: Any
    ) -> set[Future[Any]]:
        finished, rest = wait(pending, return_when=when or "ALL_COMPLETED")
        for future in finished:
            try:
                status, payload = future.result()
            except BrokenProcessPool as exc:
                raise EngineError(
                    f"a scoring worker process died: {exc}",
                    hint="often out of memory: lower --workers or batch.batch_size; rerun with --resume",
                ) from None
            if status == "error":
                raise_error(payload)
            scored, pid, rss = payload
            for part in scored if isinstance(scored, list) else [scored]:
                results[part.index] = part
                plan.progress.advance(part.rows_in)
            self.worker_peak_rss[pid] = max(rss, self.worker_peak_rss.get(pid, 0))
        return rest


SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def child_environment(variables: dict[str, str]) -> Iterator[None]:
    """Variables that processes started inside the block inherit (the user's own settings
    win); this process's environment is as before afterwards."""
    added = {k: v for k, v in variables.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


PAYLOAD_PREFIX, PAYLOAD_SUFFIX = "conveyor-model-", ".pkl"
_PAYLOAD_NAME = re.compile(rf"^{PAYLOAD_PREFIX}(\d+)-(\d*)-.*{re.escape(PAYLOAD_SUFFIX)}$")


def write_payload(payload: bytes | None) -> str | None:
    """The model's bytes in a private temporary file that each worker reads once, named by
    the owner's PID and start time: files that killed runs left behind are swept first."""
    if payload is None:
        return None
    sweep_payloads()
    owner = ProcessId.current()
    handle, path = tempfile.mkstemp(prefix=f"{PAYLOAD_PREFIX}{owner.pid}-{owner.started}-", suffix=PAYLOAD_SUFFIX)
    with os.fdopen(handle, "wb") as out:
        out.write(payload)
    return path


def sweep_payloads(folder: str | None = None) -> list[str]:
    """Remove the model files in the temporary folder whose owner process is gone; their paths."""
    folder = folder or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            match = _PAYLOAD_NAME.match(name)
            if match and not pid_alive(int(match.group(1)), match.group(2)):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.join(folder, name))
    return removed


def plan_tasks(groups: Sequence[RowGroup], batch_size: int, done: set[int], workers: int) -> list[Task]:
    """Runs of consecutive parts still to score, largest first.

    Part ``i`` is rows ``[i × batch_size, (i + 1) × batch_size)`` of the whole input, across
    files. Tasks start where a row group starts (a worker then decodes no rows it drops), and
    a row group is split further only to give each worker about ``TASKS_PER_WORKER`` tasks.
    """
    total = sum(g.rows for g in groups)
    parts = math.ceil(total / batch_size)
    size = max(1, min(MAX_TASK_PARTS, math.ceil((parts - len(done)) / (TASKS_PER_WORKER * workers))))
    cuts = sorted({math.ceil(g.first_row / batch_size) for g in groups} | {parts})
    tasks = []
    for low, high in itertools.pairwise(cuts):
        pieces = math.ceil((high - low) / size)
        edges = [low + (high - low) * k // pieces for k in range(pieces + 1)]
        for start, stop in itertools.pairwise(edges):
            tasks += _runs_not_done(start, stop, done, groups, batch_size)
    return sorted(tasks, key=lambda t: (-t.parts, t.first_part))


def _runs_not_done(start: int, stop: int, done: set[int], groups: Sequence[RowGroup], batch_size: int) -> list[Task]:
    """Parts ``[start, stop)`` less those done, as tasks of consecutive parts."""
    tasks, run = [], []
    for index in [*range(start, stop), None]:
        if index is not None and index not in done:
            run.append(index)
        elif run:
            first, last = run[0] * batch_size, (run[-1] + 1) * batch_size
            held = tuple(g for g in groups if g.first_row < last and g.first_row + g.rows > first)
            tasks.append(Task(run[0], len(run), held))
            run = []
    return tasks


def columns_to_read(spec: PartSpec, names: Sequence[str]) -> tuple[str, ...] | None:
    """Only the model's and the kept columns when nothing else can see the rest (no preprocess
    hook, no rejected rows written whole); None: every column."""
    if spec.keep is None or spec.policy != "fail" or "preprocess" in spec.hooks:
        return None
    wanted = {c.name for c in spec.columns} | set(spec.keep)
    return tuple(n for n in names if n in wanted)
