"""The endpoint on scikit-learn's bundled data answers what the estimator gives: a 422 naming
the field and the row where the estimator raises, its numbers otherwise, and per-class
probabilities when asked (MLflow protocol params, Open Inference Protocol outputs)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.datasets import DatasetProject


def _app(project: DatasetProject) -> Any:
    from conveyor.app import Project
    from conveyor.serving import build_service, create_app

    loaded = Project.load(project.path)
    service = build_service(loaded.serving)
    for poller in service.pollers.values():
        poller.poll_once()
    return create_app(service)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module, as a server has (each deployment's batcher lives on it)."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def apps(diabetes: DatasetProject, wine: DatasetProject, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    return {"diabetes": (_app(diabetes), loop), "wine": (_app(wine), loop)}


def _call(served: tuple[Any, asyncio.AbstractEventLoop], method: str, path: str, body: Any = None) -> httpx.Response:
    app, loop = served

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
            return await client.request(method, path, json=body)

    return asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=120)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def test_a_missing_value_the_estimator_refuses_is_a_422_naming_field_and_row(
    apps: dict[str, Any], diabetes: DatasetProject
) -> None:
    frame = diabetes.frame[diabetes.features].head(3).reset_index(drop=True)
    frame.loc[1, "bmi"] = np.nan
    model = diabetes.model()
    with pytest.raises(ValueError, match="NaN"):
        model.predict(frame.iloc[[1]])  # type: ignore[attr-defined]
    response = _call(apps["diabetes"], "POST", "/models/diabetes/invocations",
                     {"dataframe_records": _records(frame)})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_INPUT"
    assert body["message"].startswith("the model refuses row 1: bmi: missing value")
    assert body["fields"] == [{"field": "bmi", "row": 1, "reason": body["fields"][0]["reason"]}]
    assert "Ridge" in body["fields"][0]["reason"]

    v2 = _call(apps["diabetes"], "POST", "/v2/models/diabetes/infer", {"inputs": [
        {"name": c, "shape": [3], "datatype": "FP64", "data": [r[c] for r in _records(frame)]}
        for c in diabetes.features]})
    assert v2.status_code == 422 and v2.json()["fields"][0]["field"] == "bmi"

    good = _call(apps["diabetes"], "POST", "/invocations", {"dataframe_records": _records(frame.drop(index=[1]))})
    assert good.status_code == 200
    np.testing.assert_allclose(good.json()["predictions"], model.predict(frame.drop(index=[1])), rtol=1e-12)  # type: ignore[attr-defined]


def test_an_unknown_category_is_a_422(apps: dict[str, Any], wine: DatasetProject) -> None:
    frame = wine.frame[wine.features].head(2).reset_index(drop=True)
    frame.loc[0, "hue_band"] = "violet"
    with pytest.raises(ValueError, match="unknown categories"):
        wine.model().predict(frame.iloc[[0]])  # type: ignore[attr-defined]
    response = _call(apps["wine"], "POST", "/models/wine/invocations", {"dataframe_records": _records(frame)})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "hue_band" and response.json()["fields"][0]["row"] == 0
    assert "unknown category 'violet'" in response.json()["message"]


def test_probabilities_on_request_in_both_protocols(apps: dict[str, Any], wine: DatasetProject) -> None:
    frame = wine.frame[wine.features].iloc[::30].reset_index(drop=True)
    model = wine.model()
    expected = model.predict_proba(frame)  # type: ignore[attr-defined]
    classes = model.classes_.tolist()  # type: ignore[attr-defined]

    plain = _call(apps["wine"], "POST", "/models/wine/invocations", {"dataframe_records": _records(frame)}).json()
    assert "probabilities" not in plain and plain["predictions"] == model.predict(frame).tolist()  # type: ignore[attr-defined]
    asked = _call(apps["wine"], "POST", "/models/wine/invocations",
                  {"dataframe_records": _records(frame), "params": {"probabilities": True}}).json()
    assert asked["classes"] == classes
    np.testing.assert_allclose(asked["probabilities"], expected, rtol=0, atol=1e-15)
    assert asked["predictions"] == plain["predictions"] and asked["scores"] == plain["scores"]

    inputs = [{"name": c, "shape": [len(frame)], "datatype": "BYTES" if c == "hue_band" else "FP64",
               "data": frame[c].tolist()} for c in wine.features]
    v2 = _call(apps["wine"], "POST", "/v2/models/wine/infer",
               {"inputs": inputs, "outputs": [{"name": "probabilities"}]}).json()
    assert [o["name"] for o in v2["outputs"]] == ["probabilities"]
    tensor = v2["outputs"][0]
    assert tensor["datatype"] == "FP64" and tensor["shape"] == [len(frame), 3]
    assert tensor["parameters"]["classes"] == classes
    np.testing.assert_allclose(np.reshape(tensor["data"], tensor["shape"]), expected, rtol=0, atol=1e-15)
    default = _call(apps["wine"], "POST", "/v2/models/wine/infer", {"inputs": inputs}).json()
    assert [o["name"] for o in default["outputs"]] == ["predict", "score"]

    metadata = _call(apps["wine"], "GET", "/v2/models/wine").json()
    assert metadata["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "score", "datatype": "FP64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3], "parameters": {"classes": classes}},
    ]


def test_asking_wrongly_is_a_clear_4xx(apps: dict[str, Any], diabetes: DatasetProject, wine: DatasetProject) -> None:
    row = _records(diabetes.frame[diabetes.features].head(1))
    regressor = _call(apps["diabetes"], "POST", "/models/diabetes/invocations",
                      {"dataframe_records": row, "params": {"probabilities": True}})
    assert regressor.status_code == 422 and "gives no class probabilities" in regressor.json()["message"]
    cases = [
        ({"dataframe_records": row, "params": {"probabilities": "yes"}}, "must be true or false"),
        ({"dataframe_records": row, "params": {"temperature": 1}}, "unknown params ['temperature']"),
        ({"dataframe_records": row, "params": []}, "params must be an object"),
    ]
    for body, message in cases:
        response = _call(apps["diabetes"], "POST", "/models/diabetes/invocations", body)
        assert response.status_code == 400 and message in response.json()["message"], response.text
    inputs = [{"name": c, "shape": [1], "datatype": "FP64", "data": [row[0][c]]} for c in diabetes.features]
    unknown = _call(apps["diabetes"], "POST", "/v2/models/diabetes/infer", {"inputs": inputs, "outputs": [{"name": "logits"}]})
    assert unknown.status_code == 400 and "unknown outputs ['logits']" in unknown.json()["message"]
    asked = _call(apps["diabetes"], "POST", "/v2/models/diabetes/infer",
                  {"inputs": inputs, "outputs": [{"name": "probabilities"}]})
    assert asked.status_code == 422 and "gives no class probabilities" in asked.json()["message"]
    assert _call(apps["diabetes"], "GET", "/v2/models/diabetes").json()["outputs"] == [
        {"name": "predict", "datatype": "FP64", "shape": [-1]}]  # a regressor's values are floats


def test_no_rows_is_said_so(apps: dict[str, Any]) -> None:
    for body in ({"dataframe_records": []}, {"dataframe_split": {"columns": [], "data": []}}, {"inputs": {}}):
        response = _call(apps["diabetes"], "POST", "/models/diabetes/invocations", body)
        assert response.status_code == 422 and response.json()["message"] == "the request has no rows", response.text
    v2 = _call(apps["diabetes"], "POST", "/v2/models/diabetes/infer", {"inputs": []})
    assert v2.status_code == 422 and v2.json()["message"] == "the request has no rows"
