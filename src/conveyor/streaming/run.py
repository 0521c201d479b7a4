"""``run_stream``: one stream scorer from the project's config and the command's options.

Locations come from the options, else the config's ``stream`` section; bare names are found
on the stand's ``broker``. ``workers`` > 1 starts that many scorer processes in one consumer
group (partitions or stream entries are shared out by the broker) and waits for them; SIGTERM
to the parent is passed on, each finishes its batch, commits and exits 0.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.core.errors import (
    BrokerUnreachableError,
    ConveyorError,
    EngineError,
    ExitCode,
    RegistryError,
    UsageError,
)
from conveyor.stack.processes import restore_signals, stop_on_sigterm
from conveyor.streaming.brokers import Broker, BrokerSettings
from conveyor.streaming.locations import (
    check_same_broker,
    dead_letters_of,
    parse_location,
)
from conveyor.streaming.loop import LoopOptions, StreamScorer, StreamSummary
from conveyor.streaming.metrics import MetricsServer, StreamMetrics
from conveyor.streaming.swap import ModelFollower

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext

log = logging.getLogger("conveyor.streaming")


@dataclass(frozen=True)
class StreamOptions:
    """What the command line (or a job spec) sets; None: the config's ``stream`` value."""

    model: str
    source: str | None = None
    sink: str | None = None
    dead_letters: str | None = None
    feedback: str | None = None
    group: str | None = None
    max_batch: int | None = None
    max_wait_ms: float | None = None
    exactly_once: bool | None = None
    workers: int | None = None
    metrics_port: int | None = None
    idle_exit_s: float | None = None  # end after this long without events (drain a topic, benchmarks)
    follow: bool = False  # file sources: wait for new lines at the end
    member: str | None = None  # this process's name in the group (default host-pid)


def open_broker(settings: BrokerSettings) -> Broker:
    kind = settings.source.kind
    if kind == "kafka":
        from conveyor.streaming.kafka import KafkaBroker

        return KafkaBroker(settings)
    if kind == "redis":
        from conveyor.streaming.redis import RedisBroker

        return RedisBroker(settings)
    from conveyor.streaming.files import FileBroker

    return FileBroker(settings)


def broker_settings(context: LifecycleContext, options: StreamOptions) -> BrokerSettings:
    """Where to read and write, checked before anything connects."""
    config, broker = context.config.stream, context.stack.broker
    source_text = options.source or config.source
    sink_text = options.sink or config.sink
    if source_text is None or sink_text is None:
        missing = "--source" if source_text is None else "--sink"
        raise UsageError(f"conveyor stream needs a source and a sink: {missing} is not set",
                         hint="pass --source URL --sink URL, or set stream.source and stream.sink in conveyor.yaml")
    source = parse_location(source_text, broker, "source")
    sink = parse_location(sink_text, broker, "sink")
    dead_text = options.dead_letters or config.dead_letters
    dead = parse_location(dead_text, broker, "dead letters") if dead_text else dead_letters_of(source)
    if source.kind != "file":
        check_same_broker(source, sink, "sink")
        check_same_broker(source, dead, "dead letters")
    elif sink.kind != "file" or dead.kind != "file":
        raise UsageError("a file source writes to files", hint="use file:// for --sink and --dead-letters too")
    exactly_once = config.exactly_once if options.exactly_once is None else options.exactly_once
    if exactly_once and source.kind != "kafka":
        raise UsageError("exactly-once needs Kafka transactions", hint="drop --exactly-once for Redis and files")
    return BrokerSettings(
        source=source, sink=sink, dead_letters=dead,
        group=options.group or config.group or f"conveyor-{context.name}",
        member=options.member or f"{socket.gethostname()}-{os.getpid()}",
        field=config.field, max_deliveries=config.max_deliveries, claim_idle_ms=config.claim_idle_ms,
        session_timeout_ms=config.session_timeout_ms, exactly_once=exactly_once, follow=options.follow,
    )


def run_stream(context: LifecycleContext, options: StreamOptions, stop: threading.Event | None = None) -> StreamSummary:
    """Score events until stopped (SIGTERM, ``stop``), the file ends, or ``idle_exit_s``."""
    settings = broker_settings(context, options)  # a bad URL fails before anything connects
    workers = options.workers or context.config.stream.workers
    if workers > 1:
        return _run_workers(context, options, workers)
    return _run_one(context, options, settings, stop or threading.Event())


def _run_one(
    context: LifecycleContext, options: StreamOptions, settings: BrokerSettings, stop: threading.Event
) -> StreamSummary:
    config = context.config.stream
    follower = ModelFollower(context.client, options.model, context.config.stages, config.poll_s,
                             context.config.features.inputs)
    name = follower.current.name
    metrics = StreamMetrics(name)
    metrics.version.labels(name).set(_number(follower.current.version))

    def swapped(scorer: Any) -> None:
        metrics.swaps.labels(name).inc()
        metrics.version.labels(name).set(_number(scorer.version))

    follower.on_swap = swapped
    broker = open_broker(settings)
    capture = _capture(context, name)
    feedback = _feedback(context, options, settings, name)
    loop_options = LoopOptions(
        max_batch=options.max_batch or config.max_batch,
        max_wait_s=(config.max_wait_ms if options.max_wait_ms is None else options.max_wait_ms) / 1000,
        idle_exit_s=options.idle_exit_s, event_id_field=config.event_id,
    )
    scorer = StreamScorer(broker, follower, loop_options, metrics, capture, feedback)
    port = options.metrics_port if options.metrics_port is not None else config.metrics_port
    server = MetricsServer(metrics, scorer.health, config.host, port) if port is not None else None
    previous = stop_on_sigterm(stop)
    # what start-up loaded (MLflow, the model) is never garbage: out of the collector's sight,
    # its full collections no longer walk it while the loop allocates per event
    gc.collect()
    gc.freeze()
    follower.start()
    if capture is not None:
        capture.start()
    if server is not None:
        server.start()
        log.info("metrics on http://%s:%d/metrics", config.host, server.port)
    try:
        return scorer.run(stop)
    finally:
        follower.stop()
        broker.close()
        if feedback is not None:
            feedback.close()
        if capture is not None:
            capture.stop()
        if server is not None:
            server.stop()
        restore_signals(previous)


def _capture(context: LifecycleContext, model: str) -> Any:
    from conveyor.data.capture_writer import CaptureWriter

    spec = context.config.stream.capture
    if spec.sample <= 0:
        return None
    return CaptureWriter(context.stack.artifact_store, model, sample=spec.sample, flush_s=spec.flush_s,
                         max_rows=spec.max_rows)


def _feedback(context: LifecycleContext, options: StreamOptions, settings: BrokerSettings, model: str) -> Any:
    """Labels on their own topic/stream/file, read by a group of their own."""
    from conveyor.streaming.feedback import FeedbackJoiner

    text = options.feedback or context.config.stream.feedback
    if text is None:
        return None
    location = parse_location(text, context.stack.broker, "feedback")
    placeholder = location.sibling(f"{location.name}.joined")  # nothing is written to it
    broker = open_broker(BrokerSettings(
        source=location, sink=placeholder, dead_letters=placeholder, group=f"{settings.group}-feedback",
        member=settings.member, field=settings.field, session_timeout_ms=settings.session_timeout_ms,
        follow=True,
    ))
    return FeedbackJoiner(broker, context.stack.artifact_store, model, context.config.stream.event_id)


def _number(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return -1.0


def _run_workers(context: LifecycleContext, options: StreamOptions, workers: int) -> StreamSummary:
    """N scorer processes in one group: each a `conveyor job run` of the same spec with one worker."""
    spec = {"kind": "stream", "project": str(context.path), "env": context.loaded.env_name,
            **{k: v for k, v in options.__dict__.items() if v is not None and k != "member"}}
    base_port = options.metrics_port if options.metrics_port is not None else context.config.stream.metrics_port
    children = []
    for index in range(workers):
        prefix = options.member or f"{socket.gethostname()}-{os.getpid()}"
        child = dict(spec, workers=1, member=f"{prefix}-{index}")
        if base_port:
            child["metrics_port"] = base_port + index
        process = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "job", "run", "--quiet", "-"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(orjson.dumps(child))
        process.stdin.close()
        children.append(process)

    def forward(signum: int, frame: Any) -> None:
        for process in children:
            process.send_signal(signal.SIGTERM)

    main = threading.current_thread() is threading.main_thread()
    previous = (signal.signal(signal.SIGTERM, forward), signal.signal(signal.SIGINT, forward)) if main else None
    total, failed, codes = StreamSummary(), [], set()
    try:
        for index, process in enumerate(children):
            assert process.stdout is not None
            out = process.stdout.read()  # one JSON line: the worker's result
            process.wait()
            line = orjson.loads(out.splitlines()[-1]) if out.strip() else {}
            if process.returncode != 0:
                failed.append(f"worker {index} exited {process.returncode}: {line.get('error', '')}")
                codes.add(process.returncode)
            _add(total, line.get("result", {}))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
    if failed:
        # the workers' own exit code when they agree on it (an unreachable broker is 9 for all)
        kind = _BY_EXIT_CODE.get(codes.pop(), EngineError) if len(codes) == 1 else EngineError
        raise kind("; ".join(failed), hint="see the workers' messages above")
    return total


_BY_EXIT_CODE: dict[int, type[ConveyorError]] = {
    ExitCode.USAGE: UsageError, ExitCode.NOT_FOUND: RegistryError, ExitCode.UNAVAILABLE: BrokerUnreachableError,
}


def _add(total: StreamSummary, part: dict[str, Any]) -> None:
    total.events += int(part.get("events", 0))
    total.scored += int(part.get("scored", 0))
    total.dead_letters += int(part.get("dead_letters", 0))
    total.batches += int(part.get("batches", 0))
    total.duration_s = max(total.duration_s, float(part.get("duration_s", 0.0)))
    total.committed = total.committed and bool(part.get("committed", True))
    for version, count in part.get("versions", {}).items():
        total.versions[version] = total.versions.get(version, 0) + int(count)
    for reason, count in part.get("dead_letter_reasons", {}).items():
        total.reasons[reason] = total.reasons.get(reason, 0) + int(count)


__all__ = ["StreamOptions", "StreamSummary", "broker_settings", "open_broker", "run_stream"]
