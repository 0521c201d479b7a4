"""Pipelines side by side: a train step that takes long (its training waits on a pipe the test
holds) does not hold up a due monitor, and a pipeline still running has its next slot wait —
at most one run per pipeline."""

from __future__ import annotations

import os
import queue
from pathlib import Path

from conveyor.app import Project
from tests.scheduling.conftest import HOURLY, at

SLOW_TRAIN = '''
import importlib.util
import os
from pathlib import Path

_spec = importlib.util.spec_from_file_location("example_train", Path(__file__).with_name("train.py"))
_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_example)


def train(X, y, params):
    """The example's training, once the test lets it go (it says when it started)."""
    os.write(int(os.environ["TRAIN_STARTED_FD"]), b"x")
    os.read(int(os.environ["TRAIN_RELEASE_FD"]), 1)
    return _example.train(X, y, params)
'''
MONITOR = 'monitor:\n  data: data/train.parquet\n  schedule: "0 * * * *"\n'


def test_a_long_train_does_not_hold_up_a_due_monitor(
    trained: Path, schedule, schedulers, edit_config, monkeypatch
) -> None:
    (trained / "slow.py").write_text(SLOW_TRAIN)
    edit_config(trained, "entrypoint: train.py:train", "entrypoint: slow.py:train")
    schedule(trained, train=HOURLY, extra=MONITOR)
    started_r, started_w = os.pipe()
    release_r, release_w = os.pipe()
    monkeypatch.setenv("TRAIN_STARTED_FD", str(started_w))
    monkeypatch.setenv("TRAIN_RELEASE_FD", str(release_r))
    said: queue.Queue[str] = queue.Queue()
    scheduler, clock = schedulers(trained)
    scheduler.notify = said.put
    try:
        clock.set(at("2026-12-01T10:00:30"))
        assert scheduler.launch() == ["train", "monitor"]  # each on its own thread
        assert os.read(started_r, 1) == b"x"  # the train step runs, and waits
        line = said.get(timeout=600)  # a hang guard, not a threshold: the monitor ends first
        assert line.startswith("monitor 2026-12-01T1000Z (schedule): succeeded — v1: ")
        assert scheduler.running == ["train"]
        history = {(e.pipeline, e.slot): e.status for e in Project.load(trained).runs()}
        assert history == {("train", "2026-12-01T1000Z"): "running", ("monitor", "2026-12-01T1000Z"): "succeeded"}

        clock.set(at("2026-12-01T11:00:30"))
        assert scheduler.launch() == ["monitor"]  # train's 11:00 slot waits: it still runs
        assert said.get(timeout=600).startswith("monitor 2026-12-01T1100Z (schedule): succeeded")
    finally:
        os.write(release_w, b"g")
    try:
        outcomes = scheduler.tick()  # waits for the train run to end; nothing else is due
    finally:
        for fd in (started_r, started_w, release_r, release_w):
            os.close(fd)
    assert [(o.pipeline, o.slot, o.status) for o in outcomes] == [
        ("train", "2026-12-01T1000Z", "succeeded"),
        ("monitor", "2026-12-01T1000Z", "succeeded"), ("monitor", "2026-12-01T1100Z", "succeeded")]
    assert outcomes[0].detail == "v2 passed the gate → dev"
    assert scheduler.running == []
