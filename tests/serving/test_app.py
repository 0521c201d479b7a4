"""The composed app: each prediction route declared once, served by the hot path, kept by FastAPI."""

from __future__ import annotations

from typing import Any

from conveyor.serving.hotpath import path_pattern
from conveyor.serving.predict import PREDICT_ROUTES


def test_the_route_table_drives_the_hot_path_and_fastapi(serve: Any, records: Any) -> None:
    running = serve()
    app = running.server.config.app
    hot = [pattern.pattern for pattern, _handler in app.routes]  # HotPath: (regex, handler)
    assert hot == [path_pattern(route.path).pattern for route in PREDICT_ROUTES]
    fastapi_posts = {r.path for r in app.app.routes if "POST" in getattr(r, "methods", ())}
    assert {route.path for route in PREDICT_ROUTES} <= fastapi_posts
    with running.client() as http:
        for route in PREDICT_ROUTES:
            path = route.path.replace("{name}", "churn").replace("{version}", "1")
            if route.protocol == "v2":
                row = records(1)[0]
                body: dict[str, Any] = {"inputs": [
                    {"name": k, "shape": [1], "datatype": "FP64" if isinstance(v, float) else "BYTES", "data": [v]}
                    for k, v in row.items()
                ]}
            else:
                body = {"dataframe_records": records(1)}
            answer = http.post(path, json=body)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["x-conveyor-version"] == "1"
            assert http.get(path).status_code == 405  # other methods: FastAPI's answer
