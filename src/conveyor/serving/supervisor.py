"""The `conveyor serve` supervisor's side of model loading: it runs the registry follower.

The supervisor (the process uvicorn's workers are spawned from) imports no MLflow. It
starts the follower (:mod:`conveyor.serving.follower`) before any worker starts and waits
for its first publish — so a worker's first poll finds its models — and then:

- on the embedded SQLite store, the follower exits after `LINGER_S` without a poke; the
  supervisor starts it again when the store's files changed (one stat per file every
  `serve.poll_s`) or a worker asked (an admin change sends SIGUSR1), so while the registry
  is quiet no process holds the MLflow client;
- on any other store, the follower stays up and polls the registry itself (it is started
  again if it dies).

SIGUSR1 is passed on to a running follower (poll now).
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


LINGER_S = 60.0  # a follower on the SQLite store exits this long after its start or last poke
FIRST_SYNC_S = 600.0  # the first publish: loading the models at start


@dataclass(frozen=True)
class FollowerSpec:
    command: list[str]  # the follower process (`conveyor serve-follow …`), without --linger / --seed
    watch: tuple[Path, ...]  # files whose change may be a registry change (SQLite); empty: it polls itself
    poll_s: float
    published: Path | None = None  # the file the first sync writes (the feed's state)


class Supervisor:
    def __init__(self, spec: FollowerSpec) -> None:
        self.spec = spec
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self.runs = 0

    def start(self) -> None:
        """Start the follower and wait for its first publish, then watch; call from the main
        thread (it takes SIGUSR1). A first sync that fails exits with the follower's code
        (it said why on stderr)."""
        stamps = self._stamps()
        self._launch(seed=True)
        self._first_publish()
        signal.signal(POKE_SIGNAL, self._poked)
        self._thread = threading.Thread(target=self._watch, args=(stamps,), name="serve-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _first_publish(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + FIRST_SYNC_S
        while time.monotonic() < deadline:
            code = process.poll()
            if self.spec.published is not None and self.spec.published.exists():
                return
            if code is not None:
                if code != 0 or self.spec.published is None:
                    raise SystemExit(code)
                return
            time.sleep(0.05)
        log.warning("the registry follower has not published after %.0fs: serving starts", FIRST_SYNC_S)

    def _poked(self, signum: int, frame: FrameType | None) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            os.kill(process.pid, POKE_SIGNAL)
        self._wake.set()

    def _watch(self, stamps: Stamps) -> None:
        """Start the follower again when it is gone and it is needed: on other stores always
        (after `poll_s`), on SQLite when the store changed since it started or a worker poked."""
        while not self._stop.is_set():
            self._wake.wait(self.spec.poll_s)
            poked = self._wake.is_set()
            self._wake.clear()
            process = self._process
            if self._stop.is_set() or (process is not None and process.poll() is None):
                continue  # running: it polls the registry itself and got the poke
            self._finished()
            now = self._stamps()
            if not self.spec.watch or poked or now != stamps:
                stamps = now  # taken before it starts: a change while it runs is seen next time
                self._launch()

    def _launch(self, *, seed: bool = False) -> None:
        self.runs += 1
        linger = ["--linger", str(LINGER_S)] if self.spec.watch else []
        command = [*self.spec.command, *linger, *(["--seed"] if seed else [])]
        self._started_at = time.monotonic()
        try:
            self._process = subprocess.Popen(command, env=_follower_env())
        except OSError as exc:
            log.error("could not start the registry follower: %s", exc)
            raise SystemExit(int(ExitCode.FAILED)) from None

    def _finished(self) -> None:
        """Say how the last follower ended (its peak memory lived only while it ran)."""
        process = self._process
        if process is None:
            return
        self._process = None
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        log.info("registry follower exited %s after %.0fs (peak %.0f MB)", process.returncode,
                 time.monotonic() - self._started_at, peak)

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
