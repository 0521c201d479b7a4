"""The supervisor's feed: workers serve what it loaded, importing no MLflow, pandas or
scikit-learn for an inference plan; a version not published yet is waited for, a failed one
reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conveyor.core.errors import PublishedLoadError
from conveyor.serving.errors import NotPublished
from conveyor.serving.feed import FeedReader, FeedWriter
from conveyor.serving.follower import follow

HEAVY = ("mlflow", "pandas", "sklearn")

WORKER = """
import json, sys
from starlette.testclient import TestClient
from conveyor.serving.server import worker_app

with TestClient(worker_app()) as http:
    answer = http.post("/models/churn/invocations", json={"dataframe_records": [RECORD]})
    v2 = http.post("/v2/models/churn/infer", json={"inputs": [
        {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
        for k, v in RECORD.items()]})
    ready = http.get("/readyz").status_code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"status": answer.status_code, "body": answer.json(), "v2": v2.status_code,
                  "ready": ready, "heavy": heavy}))
"""


def _followed(project: Path, feed: Path) -> None:
    """What `conveyor serve`'s follower does before the workers start."""
    from conveyor.app import Project

    follow(Project.load(project).serving, feed, linger_s=0.0, seed=True, poll_s=0.3)


def test_a_worker_serves_a_plan_without_mlflow_pandas_or_scikit_learn(
    make_served: Any, tmp_path: Path, records: Any
) -> None:
    project = make_served()
    feed = tmp_path / "feed"
    _followed(project, feed)
    record = records(1)[0]
    env = {
        **os.environ,
        "CONVEYOR_SERVE_PROJECT": str(project),
        "CONVEYOR_SERVE_CONTEXT": "conveyor.app:serving_worker_context",
        "CONVEYOR_SERVE_FEED": str(feed),
        "CONVEYOR_SERVE_SUPERVISOR_PID": str(os.getpid()),  # poked only after an admin change
    }
    env.pop("CONVEYOR_SERVE_ENV", None)
    script = f"RECORD = {record!r}\nHEAVY = {HEAVY!r}\n{WORKER}"
    done = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == 200 and out["v2"] == 200 and out["ready"] == 200, out
    assert out["body"]["version"] == "1" and out["body"]["predictions"] in ([0], [1])
    assert out["heavy"] == [], f"a worker serving a plan imported {out['heavy']}"


def test_the_feed_answers_what_the_supervisor_loaded(make_served: Any, tmp_path: Path, trained_template: Any) -> None:
    feed = tmp_path / "feed"
    _followed(make_served(), feed)
    loaded_self: list[str] = []

    def load_self(model: str, version: str) -> Any:
        loaded_self.append(version)
        raise AssertionError("a plan is never loaded by the worker itself")

    reader = FeedReader(feed, load_self)
    assert reader.aliases("churn") == {"dev": "1", "staging": "1", "prod": "1"}
    scorer = reader.load("churn", "1")
    assert scorer.flavor == "plan" and scorer.version == "1"
    with pytest.raises(NotPublished):  # asked for before the follower loaded it: waited for
        reader.load("churn", trained_template["copy"])
    assert loaded_self == []
    again = FeedWriter(feed)  # the next run of the follower unpickles what is published
    assert again.loading(load_self)("churn", "1").version == "1" and loaded_self == []


def test_a_version_that_does_not_pickle_is_loaded_by_the_worker_and_a_failure_is_reported(tmp_path: Path) -> None:
    from conveyor.scoring import PyfuncScorer

    writer = FeedWriter(tmp_path)

    class Local:  # a class defined in a function does not pickle, like a test's pyfunc model
        def predict(self, frame: Any) -> list[int]:
            return [1] * len(frame)

    def load(model: str, version: str) -> Any:
        if version == "9":
            raise RuntimeError("the artifact store is gone")
        from conveyor.scoring import InputSchema, RegisteredVersion

        return PyfuncScorer(Local(), InputSchema(), RegisteredVersion(model, version))

    loader = writer.loading(load)
    loader("churn", "4")
    with pytest.raises(RuntimeError):
        loader("churn", "9")
    writer.publish({"prod": "4"})
    own: list[str] = []

    def load_self(model: str, version: str) -> Any:
        own.append(version)
        return load(model, version)

    reader = FeedReader(tmp_path, load_self)
    assert reader.load("churn", "4").version == "4" and own == ["4"]
    with pytest.raises(PublishedLoadError, match="the artifact store is gone"):
        reader.load("churn", "9")
