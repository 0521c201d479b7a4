"""Which process owns something, whether that process still runs, and SIGTERM as an exit.

A :class:`ProcessId` names a process by host, PID and start time, so a PID the system has
reused for another process is told apart from the owner (Linux: the start time from
``/proc/<pid>/stat``; elsewhere the PID alone). Training tags its MLflow runs with the owner
(:mod:`conveyor.lifecycle.orphans`), and local batch workers' model files carry the owner's
PID in their names, so whatever a killed process left behind can be told from what a live
one is using.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from conveyor.core.errors import ExitCode


@dataclass(frozen=True)
class ProcessId:
    """A process: its host, PID and start time (``""`` where the system does not tell)."""

    host: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> ProcessId:
        return cls(socket.gethostname(), os.getpid(), start_time(os.getpid()))

    def gone(self) -> bool | None:
        """True when this process has ended (or its PID now names another process), False
        while it runs, None when that cannot be told from here (another host)."""
        if self.host != socket.gethostname():
            return None
        return not pid_alive(self.pid, self.started)


def start_time(pid: int) -> str:
    """The process's start time in clock ticks after boot (Linux), ``""`` where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()  # after "pid (command) "
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid: int, started: str = "") -> bool:
    """Whether ``pid`` runs, and (when ``started`` is known) is the process started then."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if started:
        now = start_time(pid)
        return not now or now == started
    return True


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises ``SystemExit(143)`` where the
    program is, so the block's own cleanup runs before the process ends, as it does for Ctrl-C
    (KeyboardInterrupt). Elsewhere, or outside the block, SIGTERM is left as it was."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(ExitCode.TERMINATED)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_on_sigterm(stop: threading.Event) -> tuple[object, object] | None:
    """SIGTERM and Ctrl-C set ``stop`` (a loop then finishes the batch in hand); the previous
    handlers, to put back with :func:`restore_signals` (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return signal.signal(signal.SIGTERM, handler), signal.signal(signal.SIGINT, handler)


def restore_signals(previous: tuple[object, object] | None) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous[0])  # type: ignore[arg-type]
        signal.signal(signal.SIGINT, previous[1])  # type: ignore[arg-type]
