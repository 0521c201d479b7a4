"""The prediction routes on a running server: both protocols, MLflow's and Triton's clients, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


@pytest.fixture
def running(serve: Any) -> Any:
    return serve()


def _check(body: dict[str, Any], rows: int) -> None:
    assert len(body["predictions"]) == rows and len(body["scores"]) == rows
    assert set(body["predictions"]) <= {0, 1}
    assert body["deployment"] == "prod" and body["version"] == "1" and body["request_id"]


def test_mlflow_protocol_formats_agree(running: Any, records: Any) -> None:
    rows = records(3)
    names = list(rows[0])
    bodies = [
        {"dataframe_records": rows},
        {"dataframe_split": {"columns": names, "data": [[r[c] for c in names] for r in rows]}},
        {"instances": rows},
        {"inputs": {c: [r[c] for r in rows] for c in names}},
    ]
    answers = []
    with running.client() as http:
        for body in bodies:
            response = http.post("/models/churn/invocations", json=body)
            assert response.status_code == 200, response.text
            assert response.headers["x-conveyor-deployment"] == "prod"
            assert response.headers["x-conveyor-version"] == "1"
            _check(response.json(), 3)
            answers.append(response.json()["scores"])
        csv = ",".join(names) + "\n" + "\n".join(",".join(str(r[c]) for c in names) for r in rows)
        response = http.post("/models/churn/invocations", content=csv, headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, response.text
        answers.append(response.json()["scores"])
    assert all(a == answers[0] for a in answers)


def test_predictions_match_the_model(running: Any, records: Any) -> None:
    import pandas as pd

    from conveyor.stack.tracking import fluent_scope

    rows = records(20)
    model = running.service.endpoints["churn"].deployments["prod"].model
    with fluent_scope(running.project.client) as mlflow:
        estimator = mlflow.sklearn.load_model(f"models:/churn/{model.version}")  # served from its plan
    expected = estimator.predict(pd.DataFrame(rows))
    with running.client() as http:
        body = http.post("/models/churn/invocations", json={"dataframe_records": rows}).json()
    assert body["predictions"] == expected.tolist()


def test_real_mlflow_client(running: Any, records: Any) -> None:
    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    scoring = ScoringServerClient("127.0.0.1", int(running.url.rsplit(":", 1)[1]))
    # MLflow's client posts to /invocations at the root: that is the default model's route
    frame = pd.DataFrame(records(4))
    response = scoring.invoke(frame)
    assert len(response.get_predictions()) == 4
    with running.client() as http:
        direct = http.post("/models/churn/invocations", json={"dataframe_records": records(4)}).json()
    assert response.get_predictions(predictions_format="ndarray").tolist() == direct["predictions"]


def test_open_inference_protocol_with_tritonclient(running: Any, records: Any) -> None:
    import tritonclient.http as triton

    rows = records(5)
    client = triton.InferenceServerClient(url=running.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("churn")
    metadata = client.get_model_metadata("churn")
    names = [i["name"] for i in metadata["inputs"]]
    assert names[:2] == ["tenure_months", "monthly_charges"]
    inputs = []
    for meta in metadata["inputs"]:
        values = [r[meta["name"]] for r in rows]
        array = np.array(values, dtype=np.float64 if meta["datatype"] == "FP64" else object)
        tensor = triton.InferInput(meta["name"], [len(rows)], meta["datatype"])
        tensor.set_data_from_numpy(array, binary_data=False)
        inputs.append(tensor)
    result = client.infer("churn", inputs, outputs=[triton.InferRequestedOutput("predict", binary_data=False)])
    assert result.as_numpy("predict").shape == (5,)
    with running.client() as http:
        direct = http.post("/models/churn/invocations", json={"dataframe_records": rows}).json()
    assert result.as_numpy("predict").tolist() == direct["predictions"]
    assert result.get_response()["parameters"]["deployment"] == "prod"
    pinned = client.infer("churn", inputs, model_version="1")
    assert pinned.get_response()["model_version"] == "1"
    with pytest.raises(Exception, match="version 42"):
        client.infer("churn", inputs, model_version="42")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "mentions"),
    [
        (b"{oops", "application/json", 400, "JSON"),
        (b'{"dataframe_records": [{"tenure_months": 1.0}]}', "application/json", 422, "monthly_charges"),
        ((b'{"dataframe_records": [{"tenure_months": "x", "monthly_charges": 1.0, "total_charges": 1.0, '
          b'"support_calls": 1.0, "plan": "a", "region": "b", "payment_method": "c"}]}'),
         "application/json", 422, "tenure_months"),
        (b"<xml/>", "application/xml", 415, "content type"),
    ],
)
def test_bad_requests(running: Any, body: bytes, content_type: str, status: int, mentions: str) -> None:
    with running.client() as http:
        response = http.post("/models/churn/invocations", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    payload = response.json()
    assert mentions in payload["message"] and payload["request_id"]
    assert "Traceback" not in response.text


def test_numbers_the_model_cannot_take_are_422(running: Any, records: Any) -> None:
    names = list(records(1)[0])
    csv = ",".join(names) + "\n1e999,1,1,1,a,b,c"
    with running.client() as http:
        response = http.post("/models/churn/invocations", content=csv, headers={"Content-Type": "text/csv"})
        assert response.status_code == 422 and "tenure_months is out of range" in response.json()["message"]
        huge = http.post("/models/churn/invocations", json={"dataframe_records": [dict(records(1)[0], support_calls=10**400)]})
        assert huge.status_code == 400 and "not valid JSON" in huge.json()["message"]  # the JSON parser's limit


def test_deeply_nested_tensor_data_is_400(running: Any) -> None:
    deep = "[" * 990 + "1" + "]" * 990
    body = '{"inputs": [{"name": "tenure_months", "shape": [1], "datatype": "FP64", "data": ' + deep + "}]}"
    with running.client() as http:
        response = http.post("/v2/models/churn/infer", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "too deeply" in response.json()["message"]


def test_body_and_rows_limits(serve: Any, records: Any) -> None:
    running = serve({"limits": {"max_body_bytes": 2000, "max_rows": 5}})
    with running.client() as http:
        big = http.post("/models/churn/invocations", json={"dataframe_records": records(40)})
        assert big.status_code == 413
        many = http.post("/models/churn/invocations", json={"inputs": {k: [v] * 6 for k, v in records(1)[0].items()}})
        assert many.status_code == 413 and "rows" in many.json()["message"]


def test_model_failure_is_a_500_with_request_id_and_the_server_goes_on(serve: Any, trained_template: Any, records: Any) -> None:
    faulty = f"v{trained_template['faulty']}"
    running = serve({"traffic": {"prod": 100, faulty: 0}})
    with running.client() as http:
        running.wait(lambda: running.version_of(faulty) is not None)
        response = http.post("/models/churn/invocations", json={"dataframe_records": records(2)},
                             headers={"X-Conveyor-Deployment": faulty, "X-Request-ID": "abc-123"})
        assert response.status_code == 500
        assert response.json()["request_id"] == "abc-123" and "injected" not in response.text
        assert http.post("/models/churn/invocations", json={"dataframe_records": records(2)}).status_code == 200


def test_unknown_model_and_deployment(running: Any, records: Any) -> None:
    with running.client() as http:
        assert http.post("/models/nope/invocations", json={"dataframe_records": records(1)}).status_code == 404
        response = http.post("/models/churn/invocations", json={"dataframe_records": records(1)},
                             headers={"X-Conveyor-Deployment": "nope"})
        assert response.status_code == 404


def test_not_ready_until_a_deployment_has_a_version(serve: Any, records: Any) -> None:
    running = serve({"traffic": {"v99": 100}}, ready=False)
    with running.client() as http:
        running.wait(lambda: running.service.pollers["churn"].polls > 0)
        assert running.service.pollers["churn"].failures == 0  # the registry answered: v99 does not exist
        assert running.service.endpoints["churn"].deployments["v99"].status(100.0)["state"] == "failed"
        assert http.get("/readyz").status_code == 503
        response = http.post("/models/churn/invocations", json={"dataframe_records": records(1)})
        assert response.status_code == 503 and "Retry-After" in response.headers
