"""The `conveyor serve` supervisor's side of model loading: it runs the registry follower.

The supervisor (the process uvicorn's workers are spawned from) imports no MLflow. It
runs the follower (:mod:`conveyor.serving.follower`) once before any worker starts — so a
worker's first poll finds its models published — and then:

- on the embedded SQLite store, again whenever the store's files changed (checked every
  `serve.poll_s`: one stat per file) or a worker asked (an admin change sends SIGUSR1),
  so between registry changes no process holds the MLflow client;
- on any other store, as one long-lived process that polls the registry itself (SIGUSR1
  is passed on to it; it is started again if it dies).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.core.errors import ExitCode

if TYPE_CHECKING:
    from types import FrameType

log = logging.getLogger("conveyor.serving")

POKE_SIGNAL = signal.SIGUSR1
Stamps = tuple[tuple[int, int] | None, ...]


@dataclass(frozen=True)
class FollowerSpec:
    command: list[str]  # the follower process (`conveyor serve-follow …`), without --once / --seed
    watch: tuple[Path, ...]  # files whose change may be a registry change (SQLite); empty: it polls itself
    poll_s: float


class Supervisor:
    def __init__(self, spec: FollowerSpec) -> None:
        self.spec = spec
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        """The first sync, then follow; call from the main thread (it takes SIGUSR1). A
        first sync that fails exits with the follower's code (it said why on stderr)."""
        stamps = self._stamps()
        code = self._run_once(seed=True)
        if code != 0:
            raise SystemExit(code)
        signal.signal(POKE_SIGNAL, self._poked)
        target = self._watch if self.spec.watch else self._keep_following
        self._thread = threading.Thread(target=target, args=(stamps,), name="serve-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _poked(self, signum: int, frame: FrameType | None) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            os.kill(process.pid, POKE_SIGNAL)
        self._wake.set()

    def _watch(self, stamps: Stamps) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.spec.poll_s)
            poked = self._wake.is_set()
            self._wake.clear()
            if self._stop.is_set():
                return
            now = self._stamps()
            if poked or now != stamps:
                stamps = now  # taken before the run: a change while it runs is seen next time
                code = self._run_once()
                if code != 0:
                    log.error("registry sync failed (exit %d): serving continues with what is loaded", code)

    def _keep_following(self, stamps: Stamps) -> None:
        while not self._stop.is_set():
            self._process = subprocess.Popen(self.spec.command, env=_follower_env())
            code = self._process.wait()
            if self._stop.is_set():
                return
            log.error("the registry follower exited (%d); starting it again", code)
            self._stop.wait(self.spec.poll_s)

    def _run_once(self, *, seed: bool = False) -> int:
        self.runs += 1
        command = [*self.spec.command, "--once", *(["--seed"] if seed else [])]
        started = time.monotonic()
        try:
            code = subprocess.run(command, env=_follower_env(), check=False).returncode
        except OSError as exc:
            log.error("could not start the registry follower: %s", exc)
            return int(ExitCode.FAILED)
        # its peak memory lived only while it ran: said, so that it is not hidden
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        log.info("registry sync: exit %d in %.1fs (follower peak %.0f MB)", code, time.monotonic() - started, peak)
        return code

    def _stamps(self) -> Stamps:
        return tuple(_stamp(path) for path in self.spec.watch)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _follower_env() -> dict[str, str]:
    """The follower's metrics stay its own (not summed into the workers' /metrics)."""
    return {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}


def poke(pid: int) -> None:
    """Ask the supervisor `pid` to sync now (from a worker, after an admin change)."""
    try:
        os.kill(pid, POKE_SIGNAL)
    except OSError:  # it is gone (the server stops): nothing to sync for
        pass


def sqlite_files(uri: str) -> tuple[Path, ...]:
    """The files of an SQLite store (``sqlite:///path``) whose change may be a registry
    change: the database and its journal / write-ahead log; none for another store."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return ()
    database = uri[len(prefix):].split("?", 1)[0]
    if not database or database == ":memory:":
        return ()
    path = Path(database)  # sqlite:////abs/file is absolute, sqlite:///file relative
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal"))
