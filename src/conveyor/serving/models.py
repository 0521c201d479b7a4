"""Model routes besides prediction: Open Inference Protocol metadata and readiness, and
ground-truth feedback by request id."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conveyor.data.capture import write_feedback
from conveyor.serving import protocols
from conveyor.serving.errors import InvalidInput, MalformedRequest, NotFound
from conveyor.serving.openapi import BEARER, NOT_READY, body, errors
from conveyor.serving.requests import read_body
from conveyor.serving.responses import json_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.serving.service import Service

log = logging.getLogger("conveyor.serving")

_LABEL = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}], "description": "The true label or value."}
_FEEDBACK_ITEM = {
    "type": "object", "required": ["request_id", "label"],
    "properties": {"request_id": {"type": "string", "minLength": 1}, "label": _LABEL,
                   "row": {"type": "integer", "minimum": 0, "description": "The row of a multi-row request."}},
}
FEEDBACK = {"anyOf": [_FEEDBACK_ITEM, {
    "type": "object", "required": ["feedback"],
    "properties": {"feedback": {"type": "array", "minItems": 1, "items": _FEEDBACK_ITEM}},
}]}


def register(app: FastAPI, service: Service) -> None:
    @app.get("/v2", tags=["open inference protocol"], summary="Server metadata.")
    async def v2_server() -> Response:
        from importlib.metadata import version

        return json_response({"name": "conveyor", "version": version("conveyor"), "extensions": []})

    @app.get("/v2/models/{name}", tags=["open inference protocol"], summary="Model metadata.",
             responses=errors(404))
    async def v2_metadata(name: str) -> Response:
        endpoint = service.endpoint(name)
        primary = endpoint.primary()
        if primary is None or primary.model is None:
            raise NotFound(f"model {name!r} has no deployment loaded yet")
        loaded = [d for d in endpoint.deployments.values() if d.model is not None]
        versions = sorted({d.model.version for d in loaded if d.model}, key=lambda v: int(v) if v.isdigit() else 0)
        return json_response(protocols.v2_metadata(name, versions, primary.model))

    @app.get("/v2/models/{name}/ready", tags=["open inference protocol"], summary="Model readiness.",
             responses={**errors(404), 503: NOT_READY})
    async def v2_model_ready(name: str) -> Response:
        endpoint = service.endpoint(name)
        return json_response({"name": name, "ready": endpoint.ready}, 200 if endpoint.ready else 503)

    @app.post("/models/{name}/feedback", tags=["models"], summary="Ground-truth labels by request id.",
              responses=errors(400, 401, 403, 404, 413, 422), openapi_extra={**body(FEEDBACK), **BEARER})
    async def feedback(name: str, request: Request) -> Response:
        """Body: `{"request_id": "...", "label": 1}` (optionally `"row": 0`), or
        `{"feedback": [{"request_id": ..., "label": ...}, ...]}`. Needs a token with role
        `feedback` (or deploy/admin) once tokens are configured or predictions need one."""
        caller = service.auth.check(request.headers.get("authorization"), "feedback")  # before the model: see endpoint()
        endpoint = service.endpoint(name, caller=caller)
        payload = protocols.loads(await read_body(request, endpoint.spec.limits.max_body_bytes))
        items = payload.get("feedback") if isinstance(payload, dict) and "feedback" in payload else [payload]
        if not isinstance(items, list) or not items:
            raise MalformedRequest("send {'request_id': ..., 'label': ...} or {'feedback': [...]}")
        bad = [i for i, item in enumerate(items) if not valid_feedback(item)]
        if bad:
            raise InvalidInput(
                "every feedback item needs a 'request_id' string and a 'label' number, string or boolean "
                "(and a 'row' integer >= 0 if any)", items=bad[:10],
            )
        path = await run_in_threadpool(write_feedback, service.artifact_store, name, items)
        log.info("feedback stored", extra={"model": name, "items": len(items), "path": path})
        return json_response({"stored": len(items)})


def valid_feedback(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    request_id, label, row = item.get("request_id"), item.get("label"), item.get("row")
    return (
        isinstance(request_id, str) and bool(request_id)
        and isinstance(label, (str, int, float))  # bool is an int
        and (row is None or (isinstance(row, int) and not isinstance(row, bool) and 0 <= row < 2**63))
    )
