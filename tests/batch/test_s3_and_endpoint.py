"""S3 input and output on the local engine (moto), and scoring through an HTTP endpoint: a real
`conveyor serve`, and a stand-in MLflow-protocol server for retries and refusals."""

from __future__ import annotations

import json
import shutil
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from conveyor.batch import EndpointError, predict


def test_local_engine_reads_and_writes_s3(trained, s3, new_batch, expected) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.put(str(new_batch), "lake/daily/2026-01-01.parquet")
    result = predict(
        trained.project, "churn@prod", "s3://lake/daily/", "s3://lake/scores/",
        batch_size=1000, workers=2, storage_options=s3,
    )
    assert (result.manifest.rows_in, len(result.manifest.parts)) == (2500, 3)
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls("lake/scores"))
    assert names == ["_SUCCESS", "_manifest.json", "_profile.json",
                     "part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    scored = pd.concat(
        [pd.read_parquet(fs.open(f"lake/scores/part-00000{i}.parquet", "rb")) for i in range(3)], ignore_index=True
    )
    assert scored["prediction"].tolist() == expected(pd.read_parquet(new_batch))["prediction"].tolist()


@pytest.fixture(scope="module")
def conveyor_endpoint(trained, tmp_path_factory):
    """`conveyor serve` on a copy of the trained project (its state stays in the copy)."""
    import httpx

    from tests.serving.conftest import Served

    folder = tmp_path_factory.mktemp("served") / "churn"
    shutil.copytree(trained.path, folder)
    served = Served(folder, workers=1)
    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            served.wait_ready(http)
        yield served.url
        # one worker: a graceful shutdown on SIGTERM exits 0, as with several workers
        assert served.stop(signal.SIGTERM) == 0, served.output[-2000:]
        assert "Waiting for application shutdown" in served.output
    finally:
        served.kill()


def test_via_conveyor_serve_equals_a_local_run(trained, conveyor_endpoint, new_batch, tmp_path: Path) -> None:
    local = predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "local"), batch_size=500)
    remote = predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "remote"), batch_size=500,
                     via_endpoint=conveyor_endpoint, workers=2)
    assert remote.manifest.endpoint == conveyor_endpoint and remote.manifest.rows_out == local.manifest.rows_out == 2500
    scored_locally, scored_remotely = pd.read_parquet(tmp_path / "local"), pd.read_parquet(tmp_path / "remote")
    assert {"prediction", "probability"} <= set(scored_remotely.columns)  # the classifier's probability too
    pd.testing.assert_frame_equal(scored_remotely, scored_locally)


class _Invocations(BaseHTTPRequestHandler):
    """A tiny MLflow-protocol scoring server around the real model (labels only, like
    `mlflow models serve`), with failures on demand."""

    model = None
    fail_next = 0
    requests = 0

    def do_POST(self) -> None:
        cls = type(self)
        cls.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/invocations":
            return self._send(404, {"error": "not found"})
        if cls.fail_next > 0:
            cls.fail_next -= 1
            return self._send(503, {"error": "warming up"})
        split = body["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        if frame["plan"].isin(["platinum"]).any():
            return self._send(400, {"error": "unknown plan"})
        return self._send(200, {"predictions": cls.model.predict(frame).tolist()})

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint(trained):
    _Invocations.model = trained.model
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Invocations)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Invocations
    server.shutdown()


def test_via_endpoint_matches_the_model_and_retries(trained, endpoint, new_batch, expected, tmp_path: Path) -> None:
    url, handler = endpoint
    handler.fail_next, handler.requests = 2, 0  # two 503s: retried, not fatal
    result = predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "out"), batch_size=500, via_endpoint=url, workers=3)
    assert result.manifest.endpoint == url and result.manifest.rows_out == 2500
    assert handler.requests == 5 + 2
    scored = pd.read_parquet(tmp_path / "out")
    assert scored["prediction"].tolist() == expected(pd.read_parquet(new_batch))["prediction"].tolist()
    assert "probability" not in scored.columns  # an MLflow scoring server answers labels only


def test_via_endpoint_rejects_rows_the_endpoint_refuses(trained, endpoint, new_batch, tmp_path: Path) -> None:
    url, _handler = endpoint
    frame = pd.read_parquet(new_batch).head(100)
    frame.loc[[7, 60], "plan"] = "platinum"
    path = tmp_path / "odd.parquet"
    frame.to_parquet(path)
    result = predict(trained.project, "churn@prod", str(path), str(tmp_path / "out"), via_endpoint=url, on_bad_rows="reject")
    assert (result.manifest.rows_out, result.manifest.rejected) == (98, 2)
    rejects = pd.read_parquet(tmp_path / "out" / "_rejects")
    assert rejects["row"].tolist() == [7, 60] and rejects["reason"].str.contains("400").all()


def test_via_endpoint_gives_up_after_retries(trained, endpoint, new_batch, tmp_path: Path) -> None:
    url, handler = endpoint
    handler.fail_next = 100
    with pytest.raises(EndpointError, match="failed 4 times"):
        predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "out"), via_endpoint=url)
    handler.fail_next = 0
    assert not (tmp_path / "out" / "_manifest.json").exists()
