"""One mapping from exceptions to responses, for the hot path and FastAPI's routes alike."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from conveyor.serving.errors import NotFound, Overloaded, Unauthorized
from conveyor.serving.responses import error_response


def test_a_serving_error_answers_its_status_body_and_headers() -> None:
    response = error_response(Overloaded("queue full", retry_after=3), "rid-1", "prod")
    assert response.status_code == 429
    assert orjson.loads(response.body) == {"error_code": "OVERLOADED", "message": "queue full", "request_id": "rid-1"}
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-request-id"] == "rid-1" and response.headers["x-conveyor-deployment"] == "prod"
    unauthorized = error_response(Unauthorized("no token"), "rid-2")
    assert unauthorized.headers["www-authenticate"] == "Bearer" and "x-conveyor-deployment" not in unauthorized.headers


def test_anything_else_is_a_logged_500_without_its_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="conveyor.serving"):
        response = error_response(RuntimeError("secret detail"), "rid-3", "-", model="churn")
    assert response.status_code == 500
    assert orjson.loads(response.body) == {"error_code": "INTERNAL_ERROR", "message": "internal error", "request_id": "rid-3"}
    assert "secret detail" not in response.body.decode() and "x-conveyor-deployment" not in response.headers
    assert [r.exc_info[1] for r in caplog.records if r.exc_info] and "secret detail" in caplog.text


def test_hot_path_and_fastapi_routes_answer_errors_alike(serve: Any, records: Any) -> None:
    running = serve()
    with running.client(headers={"X-Request-ID": "same"}) as http:
        predict = http.post("/models/nope/invocations", json={"dataframe_records": records(1)})  # hot path
        metadata = http.get("/v2/models/nope")  # FastAPI
        admin = http.get("/admin/models/churn")  # FastAPI, no token
    expected = NotFound("no model named 'nope' is served here").body("same")  # no list for an anonymous caller
    assert predict.status_code == metadata.status_code == 404
    assert predict.json() == metadata.json() == expected
    assert admin.status_code == 401 and admin.json()["error_code"] == "UNAUTHORIZED"
    assert admin.headers["www-authenticate"] == "Bearer" and admin.headers["x-request-id"] == "same"
