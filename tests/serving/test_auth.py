"""Bearer tokens and roles."""

from __future__ import annotations

import hashlib
from typing import Any


def test_roles(serve: Any, records: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PREDICT_TOKEN", "p-secret")
    tokens = [
        {"name": "app", "token": "${PREDICT_TOKEN}", "roles": ["predict"]},
        {"name": "ci", "sha256": hashlib.sha256(b"d-secret").hexdigest(), "roles": ["deploy"]},
    ]
    running = serve({"auth": {"tokens": tokens, "predict": True}})
    body = {"dataframe_records": records(1)}
    weights = {"weights": {"prod": 100}}
    with running.client() as http:
        assert http.post("/models/churn/invocations", json=body).status_code == 401
        bad = http.post("/models/churn/invocations", json=body, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and "nope" not in bad.text
        app = {"Authorization": "Bearer p-secret"}
        ci = {"Authorization": "Bearer d-secret"}
        assert http.post("/models/churn/invocations", json=body, headers=app).status_code == 200
        assert http.post("/models/churn/invocations", json=body, headers=ci).status_code == 200  # deploy ⊇ predict
        assert http.put("/admin/models/churn/traffic", json=weights).status_code == 401
        assert http.put("/admin/models/churn/traffic", json=weights, headers=app).status_code == 403
        assert http.put("/admin/models/churn/traffic", json=weights, headers=ci).status_code == 200
        assert http.get("/admin/models/churn", headers=ci).status_code == 200
    assert "p-secret" not in running.project.loaded.snapshot()
    assert all(t.token is None for t in running.project.config.serve.auth.tokens)


def test_admin_always_needs_a_token(serve: Any, records: Any) -> None:
    running = serve()
    with running.client() as http:
        assert http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).status_code == 200
        assert http.get("/admin/models/churn").status_code == 401
    with running.admin() as admin:  # the local admin token `conveyor serve` writes
        assert admin.get("/admin/models/churn").status_code == 200


def _tokens() -> list[dict[str, Any]]:
    return [
        {"name": "app", "sha256": hashlib.sha256(b"p-secret").hexdigest(), "roles": ["predict"]},
        {"name": "labeller", "sha256": hashlib.sha256(b"f-secret").hexdigest(), "roles": ["feedback"]},
        {"name": "ci", "sha256": hashlib.sha256(b"d-secret").hexdigest(), "roles": ["deploy"]},
    ]


def test_feedback_needs_a_feedback_token_once_tokens_exist(serve: Any, records: Any) -> None:
    """Predictions stay open (`auth.predict: false`), labels do not: anyone could poison them."""
    running = serve({"auth": {"tokens": _tokens()}})
    label = {"request_id": "r1", "label": 1}
    with running.client() as http:
        assert http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).status_code == 200
        missing = http.post("/models/churn/feedback", json=label)
        assert missing.status_code == 401 and missing.json()["error_code"] == "UNAUTHORIZED"
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = http.post("/models/churn/feedback", json=label, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["message"] == "the token is not valid"
        predict_only = http.post("/models/churn/feedback", json=label, headers={"Authorization": "Bearer p-secret"})
        assert predict_only.status_code == 403
        assert predict_only.json() == {"error_code": "FORBIDDEN", "message": "token 'app' lacks role 'feedback'",
                                       "request_id": predict_only.headers["x-request-id"]}
        for token in ("f-secret", "d-secret", running.token):  # feedback, deploy ⊇ feedback, the local admin
            stored = http.post("/models/churn/feedback", json=label, headers={"Authorization": f"Bearer {token}"})
            assert stored.json() == {"stored": 1}, token
        labeller = {"Authorization": "Bearer f-secret"}
        assert http.put("/admin/models/churn/traffic", json={"weights": {"prod": 100}}, headers=labeller).status_code == 403


def test_feedback_is_open_only_without_tokens(serve: Any) -> None:
    running = serve()
    with running.client() as http:
        assert http.post("/models/churn/feedback", json={"request_id": "r1", "label": 1}).json() == {"stored": 1}


def test_feedback_follows_a_closed_predict(serve: Any) -> None:
    """With `auth.predict: true` and no token configured, feedback needs a token too."""
    running = serve({"auth": {"predict": True}})
    with running.client() as http:
        assert http.post("/models/churn/feedback", json={"request_id": "r1", "label": 1}).status_code == 401
    with running.admin() as admin:
        assert admin.post("/models/churn/feedback", json={"request_id": "r1", "label": 1}).status_code == 200


def test_an_unknown_model_is_not_listed_to_an_anonymous_caller(serve: Any, records: Any) -> None:
    running = serve({"auth": {"tokens": _tokens()}})
    body = {"dataframe_records": records(1)}
    with running.client() as http:
        anonymous = http.post("/models/nope/invocations", json=body)  # predictions are open: 404, no list
        assert anonymous.status_code == 404
        assert anonymous.json() == {"error_code": "NOT_FOUND", "message": "no model named 'nope' is served here",
                                    "request_id": anonymous.headers["x-request-id"]}
        assert "churn" not in anonymous.text
        for path in ("/v2/models/nope/infer", "/v2/models/nope", "/v2/models/nope/ready"):
            response = http.request("POST" if path.endswith("infer") else "GET", path,
                                    json={"inputs": []} if path.endswith("infer") else None)
            assert response.status_code == 404 and "churn" not in response.text, path
        # feedback and admin check the token before the model: no token, no word on the model
        no_token = http.post("/models/nope/feedback", json={"request_id": "r1", "label": 1})
        assert no_token.status_code == 401 and "churn" not in no_token.text and "nope" not in no_token.text
        assert http.get("/admin/models/nope").status_code == 401
        forbidden = http.get("/admin/models/nope", headers={"Authorization": "Bearer p-secret"})
        assert forbidden.status_code == 403 and "churn" not in forbidden.text
        # an authenticated caller is told what is served
        known = http.post("/models/nope/feedback", json={"request_id": "r1", "label": 1},
                          headers={"Authorization": "Bearer f-secret"})
        assert known.status_code == 404 and known.json()["hint"] == "models: ['churn']"
        admin = http.get("/admin/models/nope", headers={"Authorization": "Bearer d-secret"})
        assert admin.status_code == 404 and admin.json()["hint"] == "models: ['churn']"


def test_a_closed_predict_checks_the_token_before_the_model(serve: Any, records: Any) -> None:
    running = serve({"auth": {"tokens": _tokens(), "predict": True}})
    body = {"dataframe_records": records(1)}
    with running.client() as http:
        anonymous = http.post("/models/nope/invocations", json=body)
        assert anonymous.status_code == 401 and "churn" not in anonymous.text
        listed = http.post("/models/nope/invocations", json=body, headers={"Authorization": "Bearer p-secret"})
        assert listed.status_code == 404 and listed.json()["hint"] == "models: ['churn']"


def test_readiness_lists_the_models_only_to_callers_who_may_know_them(serve: Any) -> None:
    closed = serve({"auth": {"tokens": _tokens(), "predict": True}})
    with closed.client() as http:
        probe = http.get("/readyz")  # a probe: no token, the status code is its answer
        assert probe.status_code == 200 and probe.json() == {"ready": True} and "churn" not in probe.text
        assert "churn" not in http.get("/readyz", headers={"Authorization": "Bearer nope"}).text
        told = http.get("/readyz", headers={"Authorization": "Bearer f-secret"})  # any valid token
        assert told.status_code == 200 and "churn" in told.json()["models"]


def test_readiness_lists_the_models_while_predictions_are_open(serve: Any) -> None:
    running = serve({"auth": {"tokens": _tokens()}})  # tokens, but predictions open: models are public
    with running.client() as http:
        assert "churn" in http.get("/readyz").json()["models"]
