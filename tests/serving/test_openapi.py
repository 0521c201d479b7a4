"""The OpenAPI document: FastAPI's routes plus the prediction routes, from one table."""

from __future__ import annotations

from typing import Any

from conveyor.serving.predict import PREDICT_ROUTES


def test_docs_describe_every_route_with_the_models_columns(serve: Any) -> None:
    running = serve()
    with running.client() as http:
        assert http.get("/docs").status_code == 200
        spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/models/{name}/invocations", "/invocations", "/v2/models/{name}/infer"} <= set(paths)
    # bodies the routes read themselves are documented; prediction bodies name the model's columns
    assert paths["/models/{name}/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    traffic = paths["/admin/models/{name}/traffic"]["put"]
    assert traffic["requestBody"]["content"]["application/json"]["schema"]["required"] == ["weights"]
    assert traffic["security"] == [{"bearer": []}]
    records = paths["/models/{name}/invocations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "tenure_months" in str(records) and "HTTPValidationError" not in str(spec)
    assert paths["/v2/models/{name}"]["get"]["parameters"][0]["schema"]["enum"] == ["churn"]


def test_every_prediction_route_is_documented_from_the_table(serve: Any) -> None:
    running = serve()
    with running.client() as http:
        paths = http.get("/openapi.json").json()["paths"]
    for route in PREDICT_ROUTES:
        operation = paths[route.path]["post"]
        path_parameters = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert path_parameters == route.parameters
        assert headers == (["X-Conveyor-Deployment", "X-Conveyor-Key"] if route.routing_headers else [])
        assert ("text/csv" in operation["requestBody"]["content"]) == (route.protocol == "mlflow")
    assert paths["/invocations"]["post"]["summary"].endswith("The served model (churn), for MLflow's clients.")
