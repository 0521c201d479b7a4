"""Every value that came from a ``${VAR}`` stays out of every output and store.

A distinct secret is planted in each value field of conveyor.yaml that a credential can sit
in (stack URIs, data and batch locations, storage options, train params, the webhook, serve
tokens, Spark settings); the real CLI then trains, predicts, monitors (a webhook that answers
and one that is down) and serves. Terminal output, logs, the MLflow store (params, tags, model
version and registered model tags, every artifact file), reports, batch manifests and the audit
log are searched for each secret. The webhook is still called with its token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.scaffold import generate_example_data

CONFIG = """\
name: churn
task: classification
target: churned
data:
  train: ${TRAIN_DATA}
  split: {method: time, column: signup_date, test_size: 0.2}
features:
  numeric: [tenure_months, monthly_charges, total_charges, support_calls]
  categorical: [plan, region, payment_method]
  sensitive: [gender]
train:
  entrypoint: train.py:train
  params: {C: 1.0, feature_store_token: "${PARAM_TOKEN}"}
gate:
  metrics: {roc_auc: ">= 0.80"}
stages: [dev, staging, prod]
batch:
  input: ${BATCH_INPUT}
  output: ${BATCH_OUTPUT}
  storage_options: {client_token: "${BATCH_OPTION}"}
monitor:
  webhook: ${HOOK_URL}
  on_drift: [alert]
  storage_options: {client_token: "${MONITOR_OPTION}"}
serve:
  auth:
    tokens: [{name: app, token: "${SERVE_TOKEN}", roles: [predict, deploy, admin]}]
runtime:
  spark: {app_name: "${SPARK_APP}", conf: {spark.hadoop.fs.s3a.secret.key: "${S3_SECRET}"}}
environments:
  dev:
    tracking_uri: ${TRACKING_URI}
    registry_uri: ${REGISTRY_URI}
    artifact_store: ${ARTIFACT_STORE}
    spark_master: ${SPARK_MASTER}
"""


class Receiver:
    """A local webhook receiver: records the paths it is called on."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_secret_reaches_any_output_or_store(project_dir: Path, tmp_path: Path, receiver: Receiver) -> None:
    store = project_dir / ".conveyor"
    (project_dir / "conveyor.yaml").write_text(CONFIG)
    drifted = generate_example_data(project_dir, rows=2000, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    secrets = {
        "TRAIN_DATA": str(project_dir / "data" / "train.parquet"),
        "PARAM_TOKEN": "param-tok-5c1d9e",
        "BATCH_INPUT": str(drifted),
        "BATCH_OUTPUT": str(tmp_path / "scores-out-8e21"),
        "BATCH_OPTION": "batch-opt-71aa0c",
        "MONITOR_OPTION": "monitor-opt-3f9b2e",
        "HOOK_URL": f"http://127.0.0.1:{receiver.port}/hooks/hook-tok-a4f7c2",
        "SERVE_TOKEN": "serve-tok-0b6e4d",
        "SPARK_APP": "spark-app-9d3c1f",
        "S3_SECRET": "s3-secret-e5a8b7",
        "TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
        "REGISTRY_URI": f"sqlite:////{str(store / 'mlflow.db').lstrip('/')}",
        "ARTIFACT_STORE": str(tmp_path / "artifacts-c7d2e9"),
        "SPARK_MASTER": "spark://master-2f8a:7077",
    }
    env = {**os.environ, **secrets, "CONVEYOR_ENV": "dev", "COLUMNS": "100"}
    env.pop("MLFLOW_TRACKING_URI", None)
    outputs: list[str] = []

    def conveyor(*args: str, code: int = 0, extra: dict[str, str] | None = None) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "conveyor", *args], cwd=project_dir, env={**env, **(extra or {})},
            capture_output=True, text=True, timeout=300, check=False,
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == code, done.stdout + done.stderr

    report = tmp_path / "drift-report.html"
    conveyor("train")
    conveyor("predict", "churn@dev")
    conveyor("monitor", "--data", str(drifted), "--report", str(report))
    assert receiver.paths == ["/hooks/hook-tok-a4f7c2"]  # the token still reaches the webhook
    down = f"http://127.0.0.1:{_free_port()}/hooks/down-tok-6d0e1a"
    secrets["HOOK_DOWN"] = down
    conveyor("monitor", "--data", str(drifted), "--json", extra={"HOOK_URL": down})
    assert "webhook http://127.0.0.1" in outputs[-1] and "failed" in outputs[-1]
    conveyor("models")
    conveyor("audit")
    spec = tmp_path / "monitor.json"
    spec.write_text(json.dumps({"kind": "monitor", "data": str(drifted)}))
    conveyor("job", "run", str(spec))
    outputs.append(_serve_briefly(project_dir, env, secrets["SERVE_TOKEN"]))

    # The artifact store's location stays where MLflow itself keeps it (a run's artifact
    # URI, a model's MLmodel); it is searched for everywhere else.
    places = {"terminal": "\n".join(outputs)}
    places.update(_mlflow_texts(secrets["TRACKING_URI"], secrets["REGISTRY_URI"]))
    for root in (store, Path(secrets["ARTIFACT_STORE"]), Path(secrets["BATCH_OUTPUT"])):
        for path in root.rglob("*"):
            if path.is_file() and path.suffix != ".db":
                places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    places["report"] = report.read_text()
    db = (store / "mlflow.db").read_bytes().decode("utf-8", "replace")
    leaks = [(name, where) for name, value in secrets.items() for where, text in places.items()
             if value in text and not (name == "ARTIFACT_STORE" and where.endswith("MLmodel"))]
    leaks += [(name, "mlflow.db") for name, value in secrets.items()
              if name != "ARTIFACT_STORE" and value in db]
    assert leaks == [], "\n".join(f"{n} in {w}" for n, w in leaks)
    assert "***" in places["report"] and (Path(secrets["BATCH_OUTPUT"]) / "_SUCCESS").exists()


def _mlflow_texts(tracking_uri: str, registry_uri: str) -> dict[str, str]:
    """Params, tags and run names of every run; version and registered-model tags."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    out: dict[str, str] = {}
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            out[f"run {run.info.run_id}"] = json.dumps(
                [run.info.run_name, run.data.params, run.data.tags, run.data.metrics]
            )
    for model in client.search_registered_models():
        out[f"model {model.name}"] = json.dumps(model.tags)
        for version in client.search_model_versions(f"name='{model.name}'"):
            out[f"version {version.version}"] = json.dumps([version.tags, version.description])
    return out


def _serve_briefly(project_dir: Path, env: dict[str, str], token: str) -> str:
    """Start `conveyor serve`, wait until /readyz answers, send one authorised request, stop."""
    import tempfile
    import time

    port = _free_port()
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "serve", "--port", str(port), "--workers", "1"],
            cwd=project_dir, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        try:
            deadline = time.monotonic() + 120  # bounds a failing test only
            while not _answers(f"http://127.0.0.1:{port}/readyz"):
                assert server.poll() is None and time.monotonic() < deadline, "serve did not get ready"
                time.sleep(0.05)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/models/churn/invocations",
                data=json.dumps({"dataframe_records": [{
                    "tenure_months": 3, "monthly_charges": 70.0, "total_charges": 210.0,
                    "support_calls": 1, "plan": "basic", "region": "north", "payment_method": "card",
                }]}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
        finally:
            server.terminate()
            server.wait(timeout=60)
        log.seek(0)
        return log.read()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False
