"""Micro-batching: grouping, order, and where the model runs (event loop or its thread)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import numpy as np

from conveyor.scoring import Prediction
from conveyor.serving.batcher import Batcher


@dataclass
class CountingModel:
    """Doubles column x; records each call's size and the thread it ran on."""

    inline: bool
    name: str = "m"
    version: str = "1"
    calls: list[tuple[int, str]] = field(default_factory=list)

    def predict(self, columns: dict[str, list[float]]) -> Prediction:
        self.calls.append((len(columns["x"]), threading.current_thread().name))
        return Prediction(np.asarray(columns["x"]) * 2)


async def _submit_together(model: CountingModel, requests: list[list[float]]) -> list[list[float]]:
    batcher = Batcher(lambda: model, max_batch=64, name="test")
    try:
        futures = [batcher.submit({"x": xs}, len(xs)) for xs in requests]  # one loop turn: one batch
        return [(await f).labels for f in futures]
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_call_and_keep_their_order() -> None:
    model = CountingModel(inline=True)
    out = asyncio.run(_submit_together(model, [[1.0], [2.0, 3.0], [4.0]]))
    assert out == [[2.0], [4.0, 6.0], [8.0]]
    assert [size for size, _ in model.calls] == [4]


def test_plan_models_run_on_the_event_loop_and_others_in_the_deployment_thread() -> None:
    loop_thread = threading.current_thread().name  # asyncio.run runs the loop in this thread
    fast, slow = CountingModel(inline=True), CountingModel(inline=False)
    asyncio.run(_submit_together(fast, [[1.0]]))
    asyncio.run(_submit_together(slow, [[1.0]]))
    assert fast.calls[0][1] == loop_thread
    assert slow.calls[0][1].startswith("predict-test")


def test_hot_path_patterns_match_whole_paths_only() -> None:
    from conveyor.serving.hotpath import path_pattern

    pattern = path_pattern("/v2/models/{name}/versions/{version}/infer")
    assert pattern.match("/v2/models/churn/versions/3/infer").groupdict() == {"name": "churn", "version": "3"}
    assert pattern.match("/v2/models/churn/versions/3/infer/x") is None
    assert pattern.match("/v2/models/a/b/versions/3/infer") is None
