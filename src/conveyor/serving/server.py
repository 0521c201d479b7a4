"""Run the app: `conveyor serve` → uvicorn with one worker process per CPU core.

The parent resolves the project, seeds the shared traffic weights from the config (live
weights survive a restart or a second replica with the same config) and writes a local
admin token (when no tokens are configured), then uvicorn spawns the workers; each worker
builds its own service, loads the models and polls the registry.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.app import Project
    from conveyor.serving.hotpath import HotPath

ENV_PROJECT = "CONVEYOR_SERVE_PROJECT"
ENV_ENVIRONMENT = "CONVEYOR_SERVE_ENV"
ENV_ADMIN_DIGEST = "CONVEYOR_SERVE_ADMIN_DIGEST"
ENV_POLL = "CONVEYOR_SERVE_POLL_S"
STATE_SUBDIR = "serving"
SINGLE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    workers: int
    log_level: str = "info"
    access_log: bool = False


def state_dir(project: Project) -> Path:
    return project.path / ".conveyor" / STATE_SUBDIR


def options_for(project: Project, host: str | None, port: int | None, workers: int | None) -> ServeOptions:
    spec = project.config.serve
    return ServeOptions(
        host=host or spec.host,
        port=spec.port if port is None else port,
        workers=workers or spec.workers or os.cpu_count() or 1,
    )


def prepare(project: Project, poll_s: float | None = None) -> str | None:
    """Parent-side setup shared by every worker; returns the local admin token if one was made."""
    from conveyor.serving.app import seed_weights
    from conveyor.serving.auth import local_admin_token
    from conveyor.serving.deployments import Endpoint
    from conveyor.serving.traffic import TrafficStore

    for name in SINGLE_THREAD:  # one process per core: no nested BLAS/OpenMP threads
        os.environ.setdefault(name, "1")
    os.environ[ENV_PROJECT] = str(project.path)
    if project.loaded.env_name:
        os.environ[ENV_ENVIRONMENT] = project.loaded.env_name
    if poll_s:
        os.environ[ENV_POLL] = str(poll_s)
    token = None
    if not project.config.serve.auth.tokens:
        token, credential = local_admin_token(state_dir(project))
        os.environ[ENV_ADMIN_DIGEST] = credential.digest.hex()
    endpoint = Endpoint(project.name, project.config.serve, list(project.config.stages), None)  # type: ignore[arg-type]
    seed_weights(project, endpoint, TrafficStore(project.stack.artifact_store, project.name))
    return token


def worker_app() -> HotPath:
    """uvicorn factory: one per worker process, configured by the parent's environment."""
    from conveyor.app import Project
    from conveyor.serving.app import build_service, create_app
    from conveyor.serving.auth import credential_from_digest

    project = Project.load(os.environ[ENV_PROJECT], env=os.environ.get(ENV_ENVIRONMENT) or None)
    extra = []
    digest = os.environ.get(ENV_ADMIN_DIGEST)
    if digest:
        extra.append(credential_from_digest("local-admin", digest))
    poll = os.environ.get(ENV_POLL)
    service = build_service(
        project, seed_traffic=False, extra_credentials=extra, poll_s=float(poll) if poll else None
    )
    return create_app(service)


def run(project: Project, options: ServeOptions, poll_s: float | None = None) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish first (graceful shutdown)."""
    import uvicorn

    from conveyor.serving.logs import configure, uvicorn_log_config

    configure(options.log_level)
    prepare(project, poll_s)
    if options.workers > 1:
        folder = tempfile.mkdtemp(prefix="conveyor-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
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
        backlog=4096,
    )


def _best(module: str, fallback: str) -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module
