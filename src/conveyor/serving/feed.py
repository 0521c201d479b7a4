"""Models handed from `conveyor serve`'s registry follower to its workers, through a local
folder.

The follower (:mod:`conveyor.serving.follower`) is the only process that talks to the
registry: it reads the aliases, loads and warms each version the deployments need (MLflow,
pandas and scikit-learn are imported there), writes every version it loaded once as a
pickled scorer (``v<version>-<id>.scorer``), then the state the workers serve from
(``state.json``: the aliases, and per version its file, a load error, or ``self`` for a
model that does not pickle, an MLflow pyfunc). Every write is a whole file renamed into
place, so a reader sees the old state or the new one.

A worker's poller reads that state instead of the registry (:class:`FeedReader`): an
inference plan is unpickled with numpy alone, so a worker holds the scoring core, the plan
and the HTTP stack, and imports no MLflow, pandas or scikit-learn unless its model needs
them. The swap stays where it was (`Endpoint.sync`: load, warm, one reference assignment).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import PublishedLoadError
from conveyor.serving.errors import NotPublished

if TYPE_CHECKING:
    from conveyor.scoring import Scorer
    from conveyor.serving.deployments import Loader

log = logging.getLogger("conveyor.serving")

STATE = "state.json"
SELF = "self"  # the worker loads this version through the registry itself


class FeedWriter:
    """The follower's side, in the folder the workers read. It starts from what an earlier
    follower published there (a version already written is unpickled, not loaded again)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        published = _read_state(folder)
        self._versions: dict[str, dict[str, str]] = dict(published["versions"]) if published else {}

    def loading(self, load: Loader) -> Loader:
        """`load`, recording each version it loads (its pickled scorer) or fails to load."""

        def loader(model: str, version: str) -> Scorer:
            entry = self._versions.get(version, {})
            if "file" in entry:
                scorer: Scorer = pickle.loads((self.folder / entry["file"]).read_bytes())
                return scorer
            try:
                scorer = load(model, version)
            except Exception as exc:
                self._versions[version] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                raise
            self._versions[version] = self._write_scorer(scorer)
            return scorer

        return loader

    def publish(self, aliases: dict[str, str]) -> None:
        """The state the workers serve from (after the versions it names are written)."""
        state = {"aliases": aliases, "versions": self._versions}
        _write(self.folder / STATE, json.dumps(state).encode())

    def _write_scorer(self, scorer: Scorer) -> dict[str, str]:
        try:
            payload = pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - e.g. a pyfunc of a local class: the worker loads it
            log.info("v%s does not pickle (%s): workers load it themselves", scorer.version, type(exc).__name__)
            return {"load": SELF}
        name = f"v{scorer.version}-{uuid.uuid4().hex[:8]}.scorer"
        _write(self.folder / name, payload)
        return {"file": name}


@dataclass
class _Seen:
    stamp: tuple[int, int]
    state: dict[str, Any]


class FeedReader:
    """A worker's side: the aliases, weights and versions the follower published.

    `load_self` loads a version the follower marked ``self`` (through the registry)."""

    def __init__(self, folder: Path, load_self: Loader) -> None:
        self.folder = folder
        self.load_self = load_self
        self._seen: _Seen | None = None

    def state(self) -> dict[str, Any]:
        """The published state, read again only when the file changed."""
        path = self.folder / STATE
        stat = path.stat()  # FileNotFoundError: nothing published (the follower's registry is down)
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if self._seen is None or self._seen.stamp != stamp:
            self._seen = _Seen(stamp, json.loads(path.read_bytes()))
        return self._seen.state

    def aliases(self, model: str) -> dict[str, str]:
        return dict(self.state()["aliases"])

    def load(self, model: str, version: str) -> Scorer:
        entry = self.state()["versions"].get(version)
        if entry is None:
            raise NotPublished(f"v{version} of {model!r} is not loaded by the follower yet")
        if "error" in entry:
            raise PublishedLoadError(entry["error"])
        if entry.get("load") == SELF:
            return self.load_self(model, version)
        scorer: Scorer = pickle.loads((self.folder / entry["file"]).read_bytes())
        return scorer


def _read_state(folder: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((folder / STATE).read_bytes())
    except FileNotFoundError:
        return None
    return state


def _write(path: Path, payload: bytes) -> None:
    """A whole file, renamed into place: readers never see part of it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    temporary.write_bytes(payload)
    os.replace(temporary, path)

