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
