"""The local engine: stream Arrow batches from the input, score them in N worker processes.

The parent reads the input as a stream and keeps at most ``2 × workers`` batches in flight,
so memory stays bounded by the batch size, not the input size. Each worker process loads the
model once (from pickled bytes, no MLflow import) and writes its own Parquet parts.
With ``--via-endpoint`` the same loop runs threads instead (the work is network-bound).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from conveyor.batch.engines.base import RunPlan
from conveyor.batch.errors import EngineError
from conveyor.batch.manifest import PartResult
from conveyor.batch.worker import (
    context_for,
    error_info,
    init_process,
    peak_rss_bytes,
    raise_error,
    score_in_process,
)


@dataclass
class LocalEngine:
    """``workers`` processes (default: CPU cores), or threads for endpoint scoring."""

    workers: int | None = None
    name: str = "local"
    parts_submitted: int = 0
    workers_used: int = 0
    worker_peak_rss: dict[int, int] = field(default_factory=dict)

    def run(self, plan: RunPlan) -> list[PartResult]:
        results: dict[int, PartResult] = dict(plan.done)
        total = plan.source.total_rows()
        todo = None if total is None else math.ceil(total / plan.batch_size) - len(plan.done)
        if plan.spec.endpoint is not None:
            wanted = self.workers or plan.spec.endpoint.concurrency
        else:
            wanted = self.workers or os.cpu_count() or 1
        workers = max(1, min(wanted, todo)) if todo is not None else wanted
        self.workers_used = workers
        plan.progress.start(total, f"scoring with {workers} {'thread' if plan.spec.endpoint else 'worker'}(s)")
        executor, submit = self._executor(plan, workers)
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
            self._collect(pending, results, plan, None)
        except BaseException:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)
            plan.progress.stop()
            raise
        executor.shutdown(wait=True)
        plan.progress.stop()
        return [results[i] for i in sorted(results)]

    def _executor(self, plan: RunPlan, workers: int) -> tuple[Executor, Any]:
        if plan.spec.endpoint is not None or workers == 1:
            context = context_for(plan.spec, plan.model_payload)  # in this process, once

            def run_here(index: int, first_row: int, table: Any) -> tuple[str, Any]:
                try:
                    return "ok", (context.process(index, first_row, table), os.getpid(), peak_rss_bytes())
                except BaseException as exc:  # noqa: BLE001
                    return "error", error_info(exc)

            pool: Executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conveyor-score")
            return pool, lambda ex, *args: ex.submit(run_here, *args)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_process,
            initargs=(plan.spec, plan.model_payload),
        )
        return pool, lambda ex, *args: ex.submit(score_in_process, *args)

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
            part, pid, rss = payload
            results[part.index] = part
            self.worker_peak_rss[pid] = max(rss, self.worker_peak_rss.get(pid, 0))
            plan.progress.advance(part.rows_in)
        return rest
