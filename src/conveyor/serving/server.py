"""Run the app: `conveyor serve` → uvicorn with one worker process per CPU core.

The parent (the supervisor) holds no registry client: it writes a local admin token (when
no tokens are configured), runs the registry follower (:mod:`conveyor.serving.supervisor`,
:mod:`conveyor.serving.follower`) — which seeds the shared traffic weights from the config
(live weights survive a restart or a second replica with the same config), loads the models
and publishes them to a feed folder (:mod:`conveyor.serving.feed`) — then uvicorn spawns
the workers. Each worker rebuilds the context with the caller's `worker_context` function
(``module:function(project_dir, env) -> ServingContext``, no registry client), builds its
own service and serves what the feed holds: an inference plan needs numpy alone, so a
worker imports no MLflow, pandas or scikit-learn for it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.core.errors import ConveyorError, ExitCode, PortInUseError
from conveyor.serving.supervisor import FollowerSpec

if TYPE_CHECKING:
    from types import FrameType

    from conveyor.core.config.schema import ProjectConfig, ServeSpec
    from conveyor.scoring import Scorer
    from conveyor.serving.context import ServingContext
    from conveyor.serving.hotpath import HotPath
    from conveyor.serving.service import ModelSource

ENV_PROJECT = "CONVEYOR_SERVE_PROJECT"
ENV_ENVIRONMENT = "CONVEYOR_SERVE_ENV"
ENV_CONTEXT = "CONVEYOR_SERVE_CONTEXT"
ENV_ADMIN_DIGEST = "CONVEYOR_SERVE_ADMIN_DIGEST"
ENV_POLL = "CONVEYOR_SERVE_POLL_S"
ENV_FEED = "CONVEYOR_SERVE_FEED"  # the supervisor's feed folder (serving/feed.py)
ENV_SUPERVISOR = "CONVEYOR_SERVE_SUPERVISOR_PID"  # poked after a worker's admin change
SINGLE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ContextFactory = Callable[[str, "str | None"], "ServingContext"]


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    log_level: str = "info"
    access_log: bool = False


def options_for(spec: ServeSpec, host: str | None, port: int | None, workers: int | None) -> ServeOptions:
    return ServeOptions(
        host=host or spec.host,
        port=spec.port if port is None else port,
        workers=workers or spec.workers or os.cpu_count() or 1,
    )


def check_address(options: ServeOptions) -> None:
    """Refuse, before anything is loaded, an address another process already listens on
    (bound as uvicorn binds it: SO_REUSEADDR, so a port in TIME_WAIT is not refused)."""
    import socket

    if options.port == 0:
        return  # the system picks a free port
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((options.host, options.port))
        except OSError as exc:
            raise PortInUseError(
                f"cannot serve on {options.host}:{options.port}: {exc.strerror or exc}",
                hint="stop the process holding it (e.g. an earlier `conveyor serve`), or pick "
                "another with --port or serve.port",
            ) from None


@dataclass(frozen=True)
class ServeLaunch:
    """What the supervisor needs to start the follower and the workers (no registry client)."""

    project_dir: Path
    environment: str | None
    config: ProjectConfig
    worker_context: str  # ``module:function(project_dir, env) -> ServingContext`` for each worker
    follower: FollowerSpec  # the registry follower (serving/follower.py) and when to run it


def prepare(launch: ServeLaunch, poll_s: float | None = None) -> str | None:
    """Parent-side setup shared by every worker; returns the local admin token if one was made."""
    from conveyor.serving.auth import local_admin_token
    from conveyor.serving.context import state_dir

    _factory(launch.worker_context)  # fail here, not in every worker
    for name in SINGLE_THREAD:  # one process per core: no nested BLAS/OpenMP threads
        os.environ.setdefault(name, "1")
    os.environ[ENV_PROJECT] = str(launch.project_dir)
    os.environ[ENV_CONTEXT] = launch.worker_context
    if launch.environment:
        os.environ[ENV_ENVIRONMENT] = launch.environment
    if poll_s:
        os.environ[ENV_POLL] = str(poll_s)
    token = None
    if not launch.config.serve.auth.tokens:
        token, credential = local_admin_token(state_dir(launch.project_dir))
        os.environ[ENV_ADMIN_DIGEST] = credential.digest.hex()
    return token


def worker_app() -> HotPath:
    """uvicorn factory: one per worker process, configured by the parent's environment."""
    from conveyor.serving.app import create_app
    from conveyor.serving.auth import credential_from_digest
    from conveyor.serving.service import build_service

    build = _factory(os.environ[ENV_CONTEXT])
    context = build(os.environ[ENV_PROJECT], os.environ.get(ENV_ENVIRONMENT) or None)
    extra = []
    digest = os.environ.get(ENV_ADMIN_DIGEST)
    if digest:
        extra.append(credential_from_digest("local-admin", digest))
    poll = float(os.environ.get(ENV_POLL) or context.config.serve.poll_s)
    feed = os.environ.get(ENV_FEED)
    source = _feed_source(context, Path(feed), int(os.environ[ENV_SUPERVISOR])) if feed else None
    service = build_service(context, seed_traffic=False, extra_credentials=extra, poll_s=poll, source=source)
    return create_app(service, context.extensions)


def _feed_source(context: ServingContext, folder: Path, supervisor: int) -> ModelSource:
    """The supervisor's feed as a worker's model source; a model that does not pickle is
    loaded through the registry (the worker connects only then)."""
    from conveyor.serving.feed import FeedReader
    from conveyor.serving.service import ModelSource
    from conveyor.serving.supervisor import poke

    fallback = context.config.features.inputs

    def load_self(model: str, version: str) -> Scorer:
        from conveyor.scoring import load_version

        return load_version(context.connect(), model, version, fallback)

    reader = FeedReader(folder, load_self)
    return ModelSource(reader.aliases, reader.load, poke=lambda: poke(supervisor))


def _factory(path: str) -> ContextFactory:
    module, _, name = path.partition(":")
    factory: ContextFactory = getattr(importlib.import_module(module), name)
    return factory


def run(launch: ServeLaunch, options: ServeOptions, *, poll_s: float | None = None) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish first (graceful shutdown).

    The registry follower syncs the feed once before the workers start (the traffic
    weights seeded, the models loaded; a failure exits with its code), then keeps it in
    sync (:mod:`conveyor.serving.supervisor`)."""
    from conveyor.serving.feed import STATE
    from conveyor.serving.logs import configure
    from conveyor.serving.supervisor import Supervisor

    configure(options.log_level)
    # A single-process uvicorn re-raises the signal it shut down on once it is done; a stop
    # asked for with SIGTERM then exits 0 (as the multi-worker supervisor does), not -15.
    signal.signal(signal.SIGTERM, _stopped)
    prepare(launch, poll_s)
    if options.workers > 1:
        folder = tempfile.mkdtemp(prefix="conveyor-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    feed = Path(tempfile.mkdtemp(prefix="conveyor-feed-"))
    os.environ[ENV_FEED] = str(feed)
    os.environ[ENV_SUPERVISOR] = str(os.getpid())
    supervisor = Supervisor(replace(launch.follower, command=[*launch.follower.command, "--feed", str(feed)],
                                    published=feed / STATE))
    try:
        supervisor.start()  # the models load here, once, before any worker starts
        try:
            _run_uvicorn(options)
        except SystemExit as stopped:
            # uvicorn exits 3 when it could not start (it has logged why); 3 means drift here
            if stopped.code == UVICORN_STARTUP_FAILURE:
                raise ConveyorError(
                    f"the server on {options.host}:{options.port} did not start (see the log above)",
                    hint="a port taken since the check, or a worker that failed to load",
                ) from None
            raise
    finally:
        supervisor.stop()
        shutil.rmtree(feed, ignore_errors=True)


UVICORN_STARTUP_FAILURE = 3
# uvicorn kills a worker that does not answer its health check in time; a worker spawned on
# a loaded machine can take longer than uvicorn's 5 s to get there, and would be killed
# while it starts (then started again, and again)
WORKER_HEALTHCHECK_S = 30


def _run_uvicorn(options: ServeOptions) -> None:
    import uvicorn

    from conveyor.serving.logs import uvicorn_log_config

    uvicorn.run(
        "conveyor.serving.server:worker_app",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        loop=_best("uvloop", "auto"),
        http=_best("httptools", "auto"),
        log_config=uvicorn_log_config(options.log_level),
        access_log=options.access_log,
        timeout_graceful_shutdown=30,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        backlog=4096,
    )


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(ExitCode.OK)


def _best(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module
