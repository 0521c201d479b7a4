"""Online learning fixtures: the synthetic drift stream, a project for it (features, target,
stages and an `online:` section) on the embedded stack, events as JSON."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from conveyor.examples.drift_stream import CATEGORICAL, NUMERIC, TARGET, DriftStream, drift_stream
from conveyor.streaming.brokers import Coordinates, Event
from tests.conftest import MIGRATED_DB


@pytest.fixture(scope="session")
def stream() -> DriftStream:
    return drift_stream(40_000, seed=1)


def events_of(rows: list[dict[str, Any]], source: str = "s", start: int = 0,
              keys: list[str] | None = None) -> list[Event]:
    return [Event(orjson.dumps(row), Coordinates(source, 0, str(start + i)),
                  None if keys is None else keys[i].encode()) for i, row in enumerate(rows)]


def batches(events: list[Event], size: int = 256) -> list[list[Event]]:
    return [events[i:i + size] for i in range(0, len(events), size)]


def config_dict(online: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {
        "name": "drifty", "task": "classification", "target": TARGET,
        "data": {"train": "data/train.csv"},
        "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
        "train": {"entrypoint": "train.py:train"},
        "gate": {"metrics": {"accuracy": ">= 0.6"}, "champion": False},
        "stages": ["dev", "staging", "prod"],
        "online": {"classes": [0, 1], "checkpoint": {"every_events": 4000, "every_s": None}, **(online or {})},
        **top,
    }


@pytest.fixture
def make_project(tmp_path: Path, migrated_store: Path) -> Callable[..., Path]:
    """A project folder for the drift stream, its `online:` section merged in, with a copy of
    the session's migrated MLflow store (a new SQLite store spends seconds on migrations)."""

    def make(online: dict[str, Any] | None = None, files: dict[str, str] | None = None, **top: Any) -> Path:
        folder = tmp_path / f"drifty-{len(list(tmp_path.iterdir()))}"
        (folder / "data").mkdir(parents=True)
        (folder / ".conveyor").mkdir()
        shutil.copy(migrated_store, folder / ".conveyor" / MIGRATED_DB)
        (folder / "train.py").write_text("def train(X, y, params):\n    raise NotImplementedError\n")
        for name, text in (files or {}).items():
            (folder / name).write_text(text)
        (folder / "conveyor.yaml").write_text(yaml.safe_dump(config_dict(online, **top), sort_keys=False))
        return folder

    return make


# the real brokers of the streaming tests: Tansu (Kafka protocol) and the local Redis
from tests.streaming.conftest import kafka, produce, redis_prefix, topics, xadd_all

__all__ = ["batches", "config_dict", "events_of", "kafka", "produce", "redis_prefix", "topics", "xadd_all"]
