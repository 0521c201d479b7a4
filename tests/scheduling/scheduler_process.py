"""A real scheduler process on a manual clock, for the crash and SIGTERM tests.

``python scheduler_process.py PROJECT START TICK``: the scheduler starts at START and runs
one round at TICK, SIGTERM handled as `conveyor scheduler` handles it."""

from __future__ import annotations

import sys
from datetime import datetime

from conveyor.app import Project
from conveyor.scheduling import ManualClock
from conveyor.stack.processes import terminate_as_exit


def main() -> None:
    project, start, tick = sys.argv[1], datetime.fromisoformat(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    clock = ManualClock(start)
    scheduler = Project.load(project).scheduler(clock=clock, notify=print)
    with terminate_as_exit():
        scheduler.start()
        try:
            clock.set(tick)
            scheduler.tick()
        finally:
            scheduler.stop()


if __name__ == "__main__":
    main()
