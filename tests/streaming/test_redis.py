"""Redis Streams against the local Redis server: consumer groups, XACK after XADD, pending
entries of a dead consumer claimed by another, poison entries, kill -9 and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from conveyor.core.errors import BrokerUnreachableError, UnknownStreamError
from conveyor.streaming import BrokerSettings, Delivery, parse_location
from conveyor.streaming.redis import RedisBroker
from tests.streaming.conftest import event, wait_for, xadd_all, xread_all


def _settings(prefix: str, member: str, **changes: Any) -> BrokerSettings:
    source = parse_location(f"redis://127.0.0.1:6379/{prefix}-in")
    return BrokerSettings(source, source.sibling(f"{prefix}-out"), source.sibling(f"{prefix}-dead"),
                          group=f"{prefix}-group", member=member, **changes)


def test_scores_every_entry_and_acknowledges_it(
    redis_prefix: str, stream_project: Path, run_in_thread: Callable[..., Any]
) -> None:
    xadd_all(f"{redis_prefix}-in", [event(i) for i in range(2000)])
    running = run_in_thread(stream_project, source=f"redis://127.0.0.1:6379/{redis_prefix}-in",
                            sink=f"redis://127.0.0.1:6379/{redis_prefix}-out", group=f"{redis_prefix}-g")
    client = redis.Redis(port=6379)
    wait_for(lambda: client.xlen(f"{redis_prefix}-out") >= 2000)
    summary = running.stop()["summary"]
    assert summary.committed and summary.scored == 2000
    assert client.xpending(f"{redis_prefix}-in", f"{redis_prefix}-g")["pending"] == 0
    outputs = xread_all(f"{redis_prefix}-out")
    assert sorted(o["event_id"] for o in outputs) == sorted(f"e{i}" for i in range(2000))
    assert {o["version"] for o in outputs} == {"1"}


def test_a_second_consumer_takes_over_a_dead_ones_pending_entries(redis_prefix: str) -> None:
    xadd_all(f"{redis_prefix}-in", [event(i) for i in range(100)])
    dead = RedisBroker(_settings(redis_prefix, "a", claim_idle_ms=200))
    taken = dead.read(100, 0.1)
    assert len(taken) == 100  # read, never acknowledged: the consumer "dies" here
    heir = RedisBroker(_settings(redis_prefix, "b", claim_idle_ms=200))
    claimed: list[Any] = []
    wait_for(lambda: bool(claimed.extend(heir.read(100, 0.1)) or len(claimed) >= 100))
    assert sorted(e.coordinates.offset for e in claimed) == sorted(e.coordinates.offset for e in taken)
    assert {e.deliveries for e in claimed} == {2}
    heir.deliver(Delivery(claimed))
    client = redis.Redis(port=6379)
    assert client.xpending(f"{redis_prefix}-in", f"{redis_prefix}-group")["pending"] == 0


def test_an_entry_delivered_too_often_is_poison(
    redis_prefix: str, stream_project: Path, run_in_thread: Callable[..., Any], edit_config: Any
) -> None:
    xadd_all(f"{redis_prefix}-in", [event(0)])
    for member in ("a", "b"):  # two consumers that took it and died
        broker = RedisBroker(_settings(redis_prefix, member, claim_idle_ms=100))
        wait_for(lambda broker=broker: bool(broker.read(10, 0.05)))
    edit_config(stream_project, "max_wait_ms: 20", "max_wait_ms: 20\n  max_deliveries: 2\n  claim_idle_ms: 100")
    running = run_in_thread(stream_project, source=f"redis://127.0.0.1:6379/{redis_prefix}-in",
                            sink=f"redis://127.0.0.1:6379/{redis_prefix}-out",
                            dead_letters=f"redis://127.0.0.1:6379/{redis_prefix}-dead", group=f"{redis_prefix}-group")
    client = redis.Redis(port=6379)
    wait_for(lambda: client.xlen(f"{redis_prefix}-dead") >= 1)
    running.stop()
    (letter,) = xread_all(f"{redis_prefix}-dead")
    assert letter["reason"] == "poison" and "delivered 3 times" in letter["detail"]
    assert letter["source"]["source"] == f"{redis_prefix}-in"
    assert client.xlen(f"{redis_prefix}-out") == 0


def test_an_entry_without_the_data_field_is_a_dead_letter(
    redis_prefix: str, stream_project: Path, run_in_thread: Callable[..., Any]
) -> None:
    client = redis.Redis(port=6379)
    client.xadd(f"{redis_prefix}-in", {"payload": b"{}"})
    running = run_in_thread(stream_project, source=f"redis://127.0.0.1:6379/{redis_prefix}-in",
                            sink=f"redis://127.0.0.1:6379/{redis_prefix}-out")
    wait_for(lambda: client.xlen(f"{redis_prefix}-in.dead") >= 1)
    running.stop()
    (letter,) = xread_all(f"{redis_prefix}-in.dead")
    assert letter["reason"] == "no_data_field"


def test_kill_9_mid_stream_loses_nothing(redis_prefix: str, stream_project: Path, edit_config: Any) -> None:
    total = 6000
    xadd_all(f"{redis_prefix}-in", [event(i) for i in range(total)])
    edit_config(stream_project, "max_wait_ms: 20", "max_wait_ms: 20\n  claim_idle_ms: 500")
    command = [sys.executable, "-m", "conveyor", "stream", "churn@prod", "--project", str(stream_project),
               "--source", f"redis://127.0.0.1:6379/{redis_prefix}-in",
               "--sink", f"redis://127.0.0.1:6379/{redis_prefix}-out", "--max-batch", "50"]
    client = redis.Redis(port=6379)
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: client.xlen(f"{redis_prefix}-out") >= 1000)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.run([*command, "--idle-exit", "3"], check=False, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    ids = {o["event_id"] for o in xread_all(f"{redis_prefix}-out")}
    assert ids == {f"e{i}" for i in range(total)}  # duplicates allowed, none lost
    assert client.xpending(f"{redis_prefix}-in", "conveyor-churn")["pending"] == 0


def test_an_unknown_stream_is_refused(redis_prefix: str) -> None:
    with pytest.raises(UnknownStreamError, match="does not exist"):
        RedisBroker(_settings(redis_prefix, "a"))


def test_an_unreachable_server_is_one_clear_error(cli: Callable[..., Any], stream_project: Path) -> None:
    from tests.streaming.conftest import free_port

    port = free_port()
    result = cli("stream", "churn@prod", "--project", stream_project, "--source", f"redis://127.0.0.1:{port}/s",
                 "--sink", f"redis://127.0.0.1:{port}/o")
    assert result.exit_code == BrokerUnreachableError.exit_code == 9
    assert f"Redis at 127.0.0.1:{port} does not answer" in result.output
