"""``run_learn``: one guarded learner on a stream, from the project's config and the command's
options (``conveyor learn``, the learn job).

Start-up, in order, so that a mistake is reported before anything is touched: the locations
(``--source``, else ``online.source``), the holdout and the classes, the learner (a user
entrypoint that does not implement the contract is refused here), the lease (a second learner
of the model refuses), the last checkpoint to resume from, then the broker. SIGTERM and
Ctrl-C end it after the batch in hand with a checkpoint.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.core.errors import ConfigError, OptionError
from conveyor.online.checkpoint import Checkpoints
from conveyor.online.drift import DriftEvent, DriftWatch
from conveyor.online.factory import make_learner
from conveyor.online.guards import guards_of
from conveyor.online.holdout import Holdout
from conveyor.online.lease import LearnerLease
from conveyor.online.loop import LearnSummary, LoopOptions, LoopParts, OnlineLoop
from conveyor.online.metrics import OnlineMetrics
from conveyor.online.offsets import Offsets
from conveyor.online.pending import PendingLabels
from conveyor.online.step import LearnStep, StepParts, StepSettings
from conveyor.online.validation import Prequential
from conveyor.online.watch import LiveWatch
from conveyor.stack.artifacts import ArtifactStore
from conveyor.stack.processes import restore_signals, stop_on_sigterm
from conveyor.stack.tracking import RunLog, ensure_experiment
from conveyor.streaming.brokers import BrokerSettings
from conveyor.streaming.locations import check_same_broker, dead_letters_of, parse_location
from conveyor.streaming.metrics import MetricsServer
from conveyor.streaming.run import open_broker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conveyor.core.config.schema import ProjectConfig
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.online.drift import Listener
    from conveyor.online.learner import Learner

log = logging.getLogger("conveyor.online")

LEARNER_PIPELINE = "learn"
DEFAULT_MEMBER = "learner"  # one learner per model: a stable name (Redis gives it its own pending entries back)


@dataclass(frozen=True)
class LearnOptions:
    """What the command line (or a job spec) sets; None: the config's ``online`` value."""

    model: str | None = None
    source: str | None = None
    labels: str | None = None
    dead_letters: str | None = None
    group: str | None = None
    max_batch: int | None = None
    max_wait_ms: float | None = None
    idle_exit_s: float | None = None
    member: str | None = None
    follow: bool = False
    metrics_port: int | None = None  # /metrics and /healthz on stream.host (0: any free port)
    checkpoint_on_stop: bool = True


def broker_settings(context: LifecycleContext, options: LearnOptions) -> tuple[BrokerSettings, BrokerSettings | None]:
    """The source's settings (dead letters on its broker) and the late labels' (if any)."""
    online, broker = context.config.online, context.stack.broker
    text = options.source or online.source
    if text is None:
        raise OptionError("conveyor learn needs a source: --source is not set",
                          hint="pass --source kafka://HOST:PORT/TOPIC (or redis://, file://), or set online.source")
    source = parse_location(text, broker, "source")
    dead_text = options.dead_letters or online.dead_letters
    dead = parse_location(dead_text, broker, "dead letters") if dead_text else dead_letters_of(source)
    if source.kind != "file":
        check_same_broker(source, dead, "dead letters")
    elif dead.kind != "file":
        raise OptionError("a file source writes its dead letters to a file", hint="use file:// for --dead-letters")
    stream = context.config.stream
    group = options.group or online.group or f"conveyor-learn-{context.name}"
    member = options.member or DEFAULT_MEMBER
    main = BrokerSettings(source=source, sink=dead, dead_letters=dead, group=group, member=member, field=stream.field,
                          max_deliveries=stream.max_deliveries, claim_idle_ms=stream.claim_idle_ms,
                          session_timeout_ms=stream.session_timeout_ms, follow=options.follow)
    labels_text = options.labels or online.labels
    if labels_text is None:
        return main, None
    labels = parse_location(labels_text, broker, "labels")
    placeholder = labels.sibling(f"{labels.name}.joined")  # nothing is written to it
    return main, BrokerSettings(source=labels, sink=placeholder, dead_letters=placeholder, group=f"{group}-labels",
                                member=member, field=stream.field, session_timeout_ms=stream.session_timeout_ms,
                                follow=True)


def run_learn(context: LifecycleContext, options: LearnOptions, stop: threading.Event | None = None) -> LearnSummary:
    """Learn until stopped (SIGTERM, ``stop``), the file ends, or ``idle_exit_s``."""
    cfg = context.config
    if options.model is not None and options.model != cfg.name:
        raise OptionError(f"this project's model is {cfg.name!r}, not {options.model!r}",
                          hint=f"run `conveyor learn {cfg.name}` here, or --project the other model's folder")
    settings, label_settings = broker_settings(context, options)  # a bad URL fails before anything connects
    holdout = _holdout(context)
    classes = _classes(context, holdout)
    fresh = make_learner(cfg, context.path, classes)  # a learner that breaks the contract: refused now
    lease = LearnerLease(context.stack.artifact_store, cfg.name, cfg.online.lease_s)
    lease.acquire()
    stop = stop or threading.Event()
    previous = stop_on_sigterm(stop)
    run = _learner_run(context)
    try:
        checkpoints = Checkpoints(context, run.run_id, holdout)
        restored = checkpoints.last()
        learner = restored.learner if restored is not None else fresh
        metrics = OnlineMetrics(cfg.name)
        listeners = _drift_listeners(context, run, metrics) if cfg.online.drift.detector is not None else []
        step = make_step(cfg, learner, classes, holdout, listeners)
        if restored is not None:
            step.events = restored.events
            log.info("resuming from checkpoint v%s (%d events)", restored.version, restored.events)
        broker = open_broker(settings)
        labels = open_broker(label_settings) if label_settings is not None else None
        server = None
        try:
            loop = OnlineLoop(step, LoopParts(context, broker, checkpoints, metrics, run,
                                              Offsets(restored.offsets if restored else None), labels, lease),
                              _loop_options(context, options))
            if options.metrics_port is not None:
                server = MetricsServer(metrics, loop.health, cfg.stream.host, options.metrics_port,
                                       "pick another --metrics-port (0: any free one)")
                server.start()
                log.info("metrics on http://%s:%d/metrics", cfg.stream.host, server.port)
            summary = loop.run(stop)
        finally:
            if server is not None:
                server.stop()
            broker.close()
            if labels is not None:
                labels.close()
        summary.resumed_from = restored.version if restored is not None else None
        summary.drifts = [d.to_dict() for d in (step.parts.drift.detections if step.parts.drift else [])]
    except (KeyboardInterrupt, SystemExit):
        context.client.set_terminated(run.run_id, status="KILLED")
        raise
    except BaseException:
        context.client.set_terminated(run.run_id, status="FAILED")
        raise
    finally:
        lease.release()
        restore_signals(previous)
    context.client.set_terminated(run.run_id, status="FINISHED")
    return summary


def _loop_options(context: LifecycleContext, options: LearnOptions) -> LoopOptions:
    online = context.config.online
    return LoopOptions(
        max_batch=options.max_batch or online.max_batch,
        max_wait_s=(online.max_wait_ms if options.max_wait_ms is None else options.max_wait_ms) / 1000,
        idle_exit_s=options.idle_exit_s, every_events=online.checkpoint.every_events,
        every_s=online.checkpoint.every_s, log_every_events=online.log_every_events,
        checkpoint_on_stop=options.checkpoint_on_stop,
    )


def make_step(cfg: ProjectConfig, learner: Learner, classes: list[Any] | None, holdout: Holdout | None,
              drift_listeners: Sequence[Listener] = ()) -> LearnStep:
    """The step the config asks for around ``learner`` (its guards, validation, watch, drift)."""
    online = cfg.online
    guards = online.guards
    settings = StepSettings(
        model=cfg.name, numeric=list(cfg.features.numeric), categorical=list(cfg.features.categorical),
        target=cfg.target, event_id_field=cfg.stream.event_id, source_field=guards.source_field,
        sources_needed=guards.rate_limit is not None or guards.max_source_share is not None,
        unlabelled=online.unlabelled, drift_features=tuple(online.drift.features),
    )
    known = None if learner.classes_ is None else learner.classes_.tolist()
    drift = None
    if online.drift.detector is not None and learner.supervised:
        drift = DriftWatch(cfg.name, online.drift, list(drift_listeners))
    watch = None
    if online.rollback.tolerance is not None and learner.supervised:
        watch = LiveWatch(cfg.task, online.rollback.tolerance, online.rollback.min_events, online.window)
    parts = StepParts(
        learner, guards_of(cfg, classes, learner.supervised), Prequential(learner.task, known or classes, online.window),
        PendingLabels(online.label_wait_s, online.label_wait_events), holdout, drift, watch,
    )
    return LearnStep(settings, parts)


def _holdout(context: LifecycleContext) -> Holdout:
    cfg = context.config
    spec = cfg.online.checkpoint
    names = cfg.features.inputs
    if spec.holdout is not None:
        return Holdout.fixed(context.path / spec.holdout, names, cfg.features.numeric, cfg.target)
    return Holdout(names, spec.holdout_share, spec.holdout_size)


def _classes(context: LifecycleContext, holdout: Holdout) -> list[Any] | None:
    cfg = context.config
    if cfg.task != "classification" or cfg.online.learner == "kmeans":
        return None
    if cfg.online.classes is not None:
        return list(cfg.online.classes)
    _, y = holdout.data()
    if len(y) and not holdout.streaming:
        return sorted(set(y.tolist()))
    raise ConfigError(
        "an online classifier needs every class up front (partial_fit takes them with the first batch)",
        field="online.classes", hint="list them, e.g. `classes: [0, 1]`, or set online.checkpoint.holdout",
    )


def _learner_run(context: LifecycleContext) -> RunLog:
    """The learner process's own MLflow run: its prequential metrics over time, drift events."""
    client, cfg = context.client, context.config
    experiment = ensure_experiment(client, cfg.name, context.artifact_root)
    run = client.create_run(experiment, tags={
        tags.MODEL: cfg.name, tags.PIPELINE: LEARNER_PIPELINE, tags.ENVIRONMENT: context.loaded.env_name or "default",
        tags.ONLINE_LEARNER: cfg.online.learner,
    })
    return RunLog(client, str(run.info.run_id))


def _drift_listeners(context: LifecycleContext, run: RunLog, metrics: OnlineMetrics) -> list[Listener]:
    """Each detection counted, logged on the learner's run, written to the artifact store
    (``online/<model>/drift/``, where the scheduler or anyone can find it) and handed to the
    user's hook."""
    store = ArtifactStore(context.stack.artifact_store)
    model = context.name

    def record(event: DriftEvent) -> None:
        log.warning("drift on %s: %s fired at %d events", event.signal, event.detector, event.events)
        metrics.drifts.labels(metrics.model, event.signal).inc()
        try:
            run.client.log_metric(run.run_id, f"drift.{event.signal}", event.value, step=event.events)
            stamp = datetime.now(UTC)
            store.write_json(f"online/{model}/drift/{stamp:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json",
                             event.to_dict())
        except Exception as exc:  # noqa: BLE001 - recording must not stop learning
            log.warning("recording a drift detection failed: %s", exc)

    listeners: list[Listener] = [record]
    hook_ref = context.config.online.drift.hook
    if hook_ref is not None:
        from conveyor.lifecycle.entrypoint import load_entrypoint

        hook = load_entrypoint(hook_ref, context.path)  # a missing hook fails at start

        def call(event: DriftEvent) -> None:
            try:
                hook(event.to_dict())
            except Exception as exc:  # noqa: BLE001 - the user's hook: logged, learning goes on
                log.warning("the drift hook %s raised %s: %s", hook_ref, type(exc).__name__, exc)

        listeners.append(call)
    return listeners
