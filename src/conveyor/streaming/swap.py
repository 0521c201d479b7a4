"""Hot swap: follow a model reference (``churn@prod``) as the endpoint does.

A daemon thread resolves the reference every ``poll_s``; when it names another version, that
version is loaded and warmed on the thread, then replaces the current scorer in one
assignment. The loop takes :attr:`ModelFollower.current` once per micro-batch, so every
event is scored by exactly one version, and the outputs say which. A registry outage is
logged and scoring goes on with what is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from conveyor.core.refs import ModelRef
from conveyor.scoring import RegisteredVersion, Scorer, load_version, resolve

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("conveyor.streaming")

Loader = Callable[[RegisteredVersion], Scorer]


class ModelFollower:
    def __init__(
        self, client: MlflowClient, ref: str, stages: Sequence[str] = (), poll_s: float = 10.0,
        fallback_columns: list[str] | None = None,
    ) -> None:
        self.client = client
        self.ref = ModelRef.parse(ref)
        self.stages = tuple(stages)
        self.poll_s = poll_s
        self.fallback_columns = fallback_columns
        self.swaps = 0
        self.poll_failures = 0
        self.on_swap: Callable[[Scorer], None] = lambda scorer: None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current = self._load(resolve(client, self.ref, self.stages))  # errors here end the start

    @property
    def current(self) -> Scorer:
        return self._current

    def _load(self, version: RegisteredVersion) -> Scorer:
        scorer = load_version(self.client, version.name, version.version, self.fallback_columns)
        scorer.warm()
        return scorer

    def start(self) -> None:
        if self.ref.kind == "version":
            return  # a fixed version never moves
        self._thread = threading.Thread(target=self._loop, name="conveyor-stream-swap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poll_once(self) -> bool:
        """Swap in the version the reference names now; True if it changed."""
        target = resolve(self.client, self.ref, self.stages)
        if target.version == self._current.version:
            return False
        scorer = self._load(target)
        previous, self._current = self._current, scorer
        self.swaps += 1
        log.info("%s: swapped v%s → v%s", self.ref, previous.version, scorer.version)
        self.on_swap(scorer)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - registry down: keep scoring with what is loaded
                self.poll_failures += 1
                log.warning("%s: registry poll failed (scoring goes on with v%s): %s",
                            self.ref, self._current.version, exc)
