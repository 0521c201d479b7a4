"""The churn example with schedules, on its embedded stack, and a scheduler on a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.app import Project
from conveyor.scheduling import ManualClock, Scheduler

START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # the first scheduler starts here
HOURLY = '"0 * * * *"'


@pytest.fixture
def schedule(edit_config: Callable[[Path, str, str], None]) -> Callable[..., Path]:
    """Give a project's pipelines schedules (and any extra config at the end)."""

    def add(project: Path, *, train: str | None = None, extra: str = "") -> Path:
        if train is not None:
            edit_config(project, "  params: {C: 1.0}\n", f"  params: {{C: 1.0}}\n  schedule: {train}\n")
        config = project / "conveyor.yaml"
        config.write_text(config.read_text() + extra)
        return project

    return add


@pytest.fixture
def trained(make_project: Callable[..., Path]) -> Path:
    """The example with v1 in dev (trained here: each test gets its own registry)."""
    project = make_project()
    Project.load(project).train()
    return project


@pytest.fixture
def schedulers() -> Iterator[Callable[..., tuple[Scheduler, ManualClock]]]:
    """Started schedulers on manual clocks; each is stopped after the test."""
    started: list[Scheduler] = []

    def start(project: Path, at: datetime = START, clock: ManualClock | None = None) -> tuple[Scheduler, ManualClock]:
        clock = clock or ManualClock(at)
        scheduler = Project.load(project).scheduler(clock=clock)
        scheduler.start()
        started.append(scheduler)
        return scheduler, clock

    yield start
    for scheduler in started:
        scheduler.stop()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
