"""The servers `benchmarks/serving.py` measures conveyor against, each started as its users
start it: MLServer 1.7.1 + mlserver-sklearn (adaptive batching on and off) and BentoML
1.4.40, each in a venv of its own built on first use under the benchmark's cache folder
(outside the repo), with the scikit-learn version of this venv so that both sides unpickle
the same fitted pipeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

MLSERVER = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"]  # 1.7.1 does not start with uvloop 0.22
BENTOML = ["bentoml==1.4.40", "pandas"]  # the service builds a DataFrame for the pipeline
MLSERVER_BATCH = {"max_batch_size": 32, "max_batch_time": 0.001}  # adaptive: 32 rows or 1 ms
BENTOML_BATCH = {"max_batch_size": 32, "max_latency_ms": 1000}


def ensure_venv(folder: Path, requirements: list[str]) -> Path:
    """The venv's bin folder, built (once per requirement set) with this Python."""
    pins = [*requirements, f"scikit-learn=={version('scikit-learn')}"]
    marker = folder / "conveyor-bench.json"
    if marker.exists() and json.loads(marker.read_text()) == pins:
        return folder / "bin"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins], check=True)
    marker.write_text(json.dumps(pins))
    return folder / "bin"


def mlserver_folder(root: Path, name: str, model_file: Path, port: int, batching: bool, workers: int) -> Path:
    """An MLServer model repository of one model (the fitted pipeline, joblib), access logs off."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {"http_port": port, "grpc_port": port + 1, "metrics_port": port + 2, "parallel_workers": workers,
                "debug": False, "host": "127.0.0.1"}
    (root / "settings.json").write_text(json.dumps(settings))
    model: dict[str, Any] = {"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
                             "parameters": {"uri": str(model_file), "version": "v1"}}
    if batching:
        model.update(MLSERVER_BATCH)
    (root / "model-settings.json").write_text(json.dumps(model))
    return root


BENTO_SERVICE = '''
import os
from typing import Any

import bentoml
import joblib
import pandas as pd


@bentoml.service(workers={workers}, logging={{"access": {{"enabled": False}}}})
class Churn:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api(batchable=True, max_batch_size={max_batch_size}, max_latency_ms={max_latency_ms})
    def predict(self, records: list[dict[str, Any]]) -> list[int]:
        return self.model.predict(pd.DataFrame(records)).tolist()
'''


def bentoml_folder(root: Path, workers: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "service.py").write_text(BENTO_SERVICE.format(workers=workers, **BENTOML_BATCH))
    return root


def v2_body(records: list[dict[str, Any]], *, pandas: bool) -> dict[str, Any]:
    """An Open Inference Protocol request, one tensor per column (MLServer decodes it as a
    DataFrame with ``content_type: pd``)."""
    inputs = []
    for name in records[0]:
        values = [r[name] for r in records]
        text = isinstance(values[0], str)
        tensor: dict[str, Any] = {"name": name, "shape": [len(values)], "datatype": "BYTES" if text else "FP64",
                                  "data": values}
        if text and pandas:
            tensor["parameters"] = {"content_type": "str"}
        inputs.append(tensor)
    body: dict[str, Any] = {"inputs": inputs}
    if pandas:
        body["parameters"] = {"content_type": "pd"}
    return body
