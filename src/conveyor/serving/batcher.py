"""Dynamic micro-batching: concurrent requests to one deployment share one model call.

By default a batch is whatever is already queued when the model becomes free (no added
wait). Models with a numpy inference plan predict on the event loop (microseconds per row);
any other model predicts in the deployment's own thread, so a slow one never blocks the loop.
The queue is bounded: past it, `submit` raises Overloaded at once (429) instead of letting
memory grow. Its wait is bounded too (`serve.limits.timeout_s`, the latency budget): a
request still queued when its time is up is answered 503 + Retry-After right then, even
while the model is busy with an earlier batch (one timer per queue, armed for its oldest
request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.core.errors import RefusedRows
from conveyor.scoring import Columns, Prediction, Scorer
from conveyor.serving.errors import ModelFailed, NotReady, Overloaded, refused_input

log = logging.getLogger("conveyor.serving")


@dataclass
class Result:
    """One request's share of a batch."""

    labels: list[Any]
    scores: list[float] | None
    model: Scorer
    proba: np.ndarray | None = None  # its rows of the batch's class probabilities (a view)


@dataclass
class _Item:
    columns: Columns
    rows: int
    future: asyncio.Future[Result]
    queued_at: float


class Batcher:
    """One per deployment. The model is read once per batch, so a swap is atomic."""

    def __init__(
        self,
        get_model: Callable[[], Scorer | None],
        *,
        max_batch: int = 64,
        max_wait_ms: float = 0.0,
        max_queue: int = 256,
        timeout_s: float = 10.0,
        retry_after: int = 1,
        on_batch: Callable[[int], None] | None = None,
        on_expired: Callable[[], None] | None = None,
        name: str = "deployment",
    ) -> None:
        self.get_model = get_model
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self.retry_after = retry_after
        self.on_batch = on_batch
        self.on_expired = on_expired
        self.name = name
        self._queue: deque[_Item] = deque()
        self._expiry: asyncio.TimerHandle | None = None  # fires when the oldest queued request's time is up
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        # One thread per deployment: a slow model (or shadow) never blocks another one.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"predict-{name}")

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for item in self._queue:
            if not item.future.done():
                item.future.set_exception(NotReady("the server is shutting down"))
        self._queue.clear()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._executor.shutdown(wait=False)

    def submit(self, columns: Columns, rows: int) -> asyncio.Future[Result]:
        """Queue one request; await the returned future for its result."""
        if self._task is None:
            self.start()
        if len(self._queue) >= self.max_queue:
            raise Overloaded(
                f"deployment {self.name!r} has {len(self._queue)} requests queued; retry later",
                retry_after=self.retry_after,
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        now = time.monotonic()
        self._queue.append(_Item(columns, rows, future, now))
        if self._expiry is None:
            self._expiry = loop.call_later(self.timeout_s, self._expire)
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    def _expire(self) -> None:
        """Answer every request whose queue time is up; re-arm for the oldest one left."""
        self._expiry = None
        queue = self._queue
        now = time.monotonic()
        while queue and (queue[0].future.done() or now - queue[0].queued_at >= self.timeout_s):
            self._shed(queue.popleft())
        if queue:
            wait = queue[0].queued_at + self.timeout_s - now
            self._expiry = asyncio.get_running_loop().call_later(max(wait, 0.0), self._expire)

    def _shed(self, item: _Item) -> None:
        if item.future.done():  # the client went away
            return
        item.future.set_exception(Overloaded(
            f"request waited more than {self.timeout_s:g}s in the queue of {self.name!r}",
            retry_after=self.retry_after, status=503,
        ))
        if self.on_expired is not None:
            self.on_expired()

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                if self.max_wait and len(self._queue) < self.max_batch:
                    await asyncio.sleep(self.max_wait)
                batch = self._take()
                if not batch:
                    continue
                model = self.get_model()
                if model is None:
                    for item in batch:
                        _fail(item, NotReady(f"deployment {self.name!r} has no model loaded"))
                    continue
                try:
                    if model.inline:
                        outputs = _predict_each(model, batch)
                    else:
                        outputs = await loop.run_in_executor(self._executor, _predict_each, model, batch)
                except Exception as exc:
                    log.exception("batch failed on %s", self.name)
                    outputs = [exc] * len(batch)
                for item, out in zip(batch, outputs):
                    if item.future.done():
                        continue
                    if isinstance(out, RefusedRows):
                        item.future.set_exception(refused_input(out))
                    elif isinstance(out, BaseException):
                        item.future.set_exception(
                            ModelFailed(f"the model failed on this input ({type(out).__name__})")
                        )
                    else:
                        item.future.set_result(Result(out[0], out[1], model, out[2]))
                if self.on_batch is not None:
                    self.on_batch(sum(item.rows for item in batch))

    def _take(self) -> list[_Item]:
        """Pop up to max_batch rows; drop requests that waited past the timeout."""
        batch: list[_Item] = []
        rows = 0
        now = time.monotonic()
        queue = self._queue
        while queue:
            item = queue[0]
            if item.future.done():  # the client went away
                queue.popleft()
                continue
            if now - item.queued_at >= self.timeout_s:  # its timer is late (the loop was busy)
                self._shed(queue.popleft())
                continue
            if batch and rows + item.rows > self.max_batch:
                break
            queue.popleft()
            batch.append(item)
            rows += item.rows
        return batch


def _fail(item: _Item, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)


def _predict_each(model: Scorer, batch: list[_Item]) -> list[Any]:
    """Predict the batch in one call; if it fails, isolate the failing requests one by one."""
    if len(batch) == 1:
        try:
            return [_split(model.predict(batch[0].columns), [batch[0].rows])[0]]
        except RefusedRows as exc:  # the client's rows, named: a 422, not a model failure
            return [exc]
        except Exception as exc:  # noqa: BLE001
            log.warning("model %s v%s failed: %s", model.name, model.version, _short(exc))
            return [exc]
    names = list(batch[0].columns)
    merged: Columns = {}
    for name in names:
        values: list[Any] = []
        for item in batch:
            values.extend(item.columns[name])
        merged[name] = values
    try:
        return _split(model.predict(merged), [item.rows for item in batch])
    except Exception:  # noqa: BLE001 - one bad request must not fail its neighbours
        return [_predict_each(model, [item])[0] for item in batch]


Share = tuple[list[Any], list[float] | None, np.ndarray | None]


def _split(prediction: Prediction, sizes: list[int]) -> list[Share]:
    """Each request's labels and scores (lists, for the response) and probabilities (a view
    of the batch's array: nothing is copied unless a request asks for them)."""
    labels = prediction.labels.tolist()
    scores = prediction.scores.tolist() if prediction.scores is not None else None
    proba = prediction.proba
    if len(labels) != sum(sizes):
        raise ValueError(f"the model returned {len(labels)} rows for {sum(sizes)} inputs")
    out: list[Share] = []
    start = 0
    for size in sizes:
        end = start + size
        out.append((labels[start:end], scores[start:end] if scores is not None else None,
                    proba[start:end] if proba is not None else None))
        start = end
    return out


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
