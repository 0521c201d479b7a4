"""Liveness, readiness (conveyor's, MLflow's and the Open Inference Protocol's) and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from conveyor.serving.metrics import CONTENT_TYPE
from conveyor.serving.openapi import NOT_READY
from conveyor.serving.responses import json_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.serving.service import Service


def register(app: FastAPI, service: Service) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers.")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz", tags=["operations"], summary="Readiness: models loaded, traffic has somewhere to go.",
             description="The status code is the answer (probes send no token). The models and their "
             "deployments are listed to callers who may know them: anyone while predictions are open, "
             "else a caller with a valid token.", responses={503: NOT_READY})
    async def readyz(request: Request) -> Response:
        ready = service.ready
        body: dict[str, object] = {"ready": ready}
        if service.auth.may_see_models(request.headers.get("authorization")):
            body["models"] = {n: e.status() for n, e in service.endpoints.items()}
        return json_response(body, 200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/ping", tags=["operations"], summary="MLflow scoring server health check.", include_in_schema=False)
    @app.get("/health", include_in_schema=False)
    async def ping() -> Response:
        return json_response({"status": "ok"}, 200 if service.ready else 503)

    @app.get("/v2/health/live", tags=["open inference protocol"])
    async def v2_live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready", tags=["open inference protocol"], responses={503: NOT_READY})
    async def v2_ready() -> Response:
        return json_response({"ready": service.ready}, 200 if service.ready else 503)
