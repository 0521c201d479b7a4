"""Labels on a feedback stream are written next to the capture, joined later by event id."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd

from conveyor.core import capture as layout
from conveyor.streaming import BrokerSettings, parse_location
from conveyor.streaming.feedback import FeedbackJoiner
from conveyor.streaming.redis import RedisBroker
from tests.streaming.conftest import wait_for, xadd_all


def test_labels_from_a_redis_stream_are_written_and_committed(redis_prefix: str, tmp_path: Path) -> None:
    labels = [orjson.dumps({"event_id": f"e{i}", "label": i % 2}) for i in range(5)] + [b"{no label"]
    xadd_all(f"{redis_prefix}-labels", labels)
    source = parse_location(f"redis://127.0.0.1:6379/{redis_prefix}-labels")
    settings = BrokerSettings(source, source.sibling("unused"), source.sibling("unused"),
                              group=f"{redis_prefix}-fb", member="m")
    joiner = FeedbackJoiner(RedisBroker(settings), str(tmp_path), "churn")
    written: list[int] = []
    wait_for(lambda: bool(written.append(joiner.poll())) or sum(written) >= 5)
    joiner.close()
    assert joiner.skipped == 1
    folder = Path(layout.model_root(str(tmp_path), "churn")) / layout.FEEDBACK_FOLDER
    frame = pd.concat(pd.read_parquet(p) for p in folder.rglob("*.parquet"))
    assert sorted(frame[layout.REQUEST_ID]) == [f"e{i}" for i in range(5)]
    again = FeedbackJoiner(RedisBroker(settings), str(tmp_path), "churn")
    assert again.poll() == 0  # acknowledged: nothing read twice
    again.close()
