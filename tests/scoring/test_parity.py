"""The endpoint, a batch job and monitoring score the same rows the same way, for every kind
of model, and their labels are the estimator's own ``predict()``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from conveyor.scoring import scores_of
from tests.scoring.conftest import FEATURES, Registered

KINDS = ["plan", "compiled", "svc", "hgb", "multiclass", "regressor", "pyfunc"]
ROWS = 200


@pytest.fixture(scope="module")
def parity(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the project serving every version as its own deployment, and the rows."""
    from conveyor.app import Project
    from conveyor.scaffold import generate_example_data

    folder = tmp_path_factory.mktemp("parity") / "churn"
    shutil.copytree(registered.path, folder)
    config = folder / "conveyor.yaml"
    raw = yaml.safe_load(config.read_text())
    raw.pop("environments", None)
    raw["serve"] = {"deployments": {f"v{v}": {"version": v} for v in registered.versions.values()}}
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    rows = generate_example_data(folder, rows=ROWS, seed=21, out=Path("data/parity.parquet"))
    return {"project": Project.load(folder), "rows": rows, "frame": pd.read_parquet(rows)}


@pytest.fixture(scope="module")
def endpoint(parity: dict[str, Any]) -> Any:
    """The real serving app, every deployment loaded (one synchronous poll), over ASGI."""
    from conveyor.serving import build_service, create_app
    from conveyor.serving.context import ServingContext

    project = parity["project"]
    service = build_service(ServingContext.of(project.loaded, project.client, project.artifacts))
    for poller in service.pollers.values():
        poller.poll_once()
    endpoint = service.endpoint("churn")
    failed = {d.name: d.error for d in endpoint.deployments.values() if d.model is None and d.wanted}
    assert not failed, failed
    return create_app(service)


def _served(app: Any, version: str, frame: pd.DataFrame) -> tuple[list[Any], list[float] | None]:
    body = {"dataframe_split": {"columns": FEATURES, "data": [
        [None if isinstance(v, float) and v != v else v for v in row] for row in frame[FEATURES].itertuples(index=False)
    ]}}

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            return await client.post("/models/churn/invocations", json=body,
                                     headers={"x-conveyor-deployment": f"v{version}"})

    response = asyncio.run(post())
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["version"] == version
    return out["predictions"], out.get("scores")


def _batch(project: Any, version: str, rows: Path, out: Path) -> pd.DataFrame:
    from conveyor.batch import predict

    predict(project, f"churn@v{version}", str(rows), str(out), workers=1, batch_size=64)
    return pd.read_parquet(out)


def _monitored(project: Any, version: str, task: str, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    from conveyor.monitoring.current import frame_pass
    from conveyor.monitoring.monitor import _load_model, _settings

    messages: list[str] = []
    cfg = project.config.model_copy(update={"task": task})
    model = _load_model(project.client, "churn", version, FEATURES, messages)
    assert model is not None, messages
    checked = frame_pass(frame, None, cfg, model, _settings(cfg.monitor.drift, None), messages)
    assert checked.predictions is not None and checked.outputs is not None, messages
    outputs = checked.outputs(np.ones(len(frame), dtype=bool))
    scores = outputs.scores
    return checked.predictions, None if scores is None else (scores if scores.ndim == 1 else scores_of(scores))


def _own(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """What the estimator itself says: predict(), and the one rule's score from predict_proba."""
    if not hasattr(model, "fit"):  # the pyfunc PythonModel
        return np.asarray(model.predict(None, X)), None
    proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    return np.asarray(model.predict(X)), None if proba is None else scores_of(np.asarray(proba))


@pytest.mark.parametrize("kind", KINDS)
def test_endpoint_batch_and_monitoring_give_the_estimators_own_labels_and_one_score(
    kind: str, registered: Registered, parity: dict[str, Any], endpoint: Any, tmp_path: Path
) -> None:
    version, frame = registered.versions[kind], parity["frame"]
    labels, scores = _own(registered.models[kind], frame[FEATURES])

    served_labels, served_scores = _served(endpoint, version, frame)
    batch = _batch(parity["project"], version, parity["rows"], tmp_path / "out")
    monitored_labels, monitored_scores = _monitored(parity["project"], version, registered.tasks[kind], frame)

    assert served_labels == batch["prediction"].tolist() == monitored_labels.tolist()
    assert served_labels == labels.tolist()  # the estimator's own predict()
    if scores is None:
        assert served_scores is None and "probability" not in batch.columns and monitored_scores is None
        return
    assert served_scores is not None and monitored_scores is not None
    assert np.array_equal(served_scores, batch["probability"].to_numpy())
    assert np.array_equal(served_scores, monitored_scores)
    assert np.asarray(served_scores) == pytest.approx(scores, abs=1e-12)


def test_the_svc_labels_are_its_predict_not_the_argmax_of_its_probabilities(registered: Registered,
                                                                           parity: dict[str, Any]) -> None:
    """Why the rule matters: Platt-scaled probabilities disagree with SVC.predict on some rows."""
    model, X = registered.models["svc"], parity["frame"][FEATURES]
    argmax = model.classes_[model.predict_proba(X).argmax(axis=1)]
    assert (argmax != model.predict(X)).any()
