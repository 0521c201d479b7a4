"""Admin routes (role deploy): an endpoint's state, its traffic weights, a registry poll now."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conveyor.core.weights import rescaled_notice
from conveyor.serving import protocols
from conveyor.serving.errors import InvalidInput, MalformedRequest
from conveyor.serving.openapi import BEARER, body, errors
from conveyor.serving.requests import read_body
from conveyor.serving.responses import json_response
from conveyor.serving.traffic import check_weights

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.serving.deployments import Endpoint
    from conveyor.serving.service import Service

log = logging.getLogger("conveyor.serving")

TRAFFIC = {
    "type": "object", "required": ["weights"],
    "properties": {"weights": {
        "type": "object", "minProperties": 1, "additionalProperties": {"type": "number", "minimum": 0},
        "description": "Deployment (a stage, vN, or one of serve.deployments) → relative weight; "
                       "at least one positive.",
    }},
    "example": {"weights": {"prod": 90, "staging": 10}},
}


def register(app: FastAPI, service: Service) -> None:
    @app.get("/admin/models/{name}", tags=["admin"], summary="Deployments, versions, weights, state.",
             responses=errors(401, 403, 404), openapi_extra=BEARER)
    async def admin_status(name: str, request: Request) -> Response:
        who = service.auth.check(request.headers.get("authorization"), "deploy")
        return json_response(endpoint_state(service, name, who))

    @app.put("/admin/models/{name}/traffic", tags=["admin"], summary="Set traffic weights (all workers).",
             responses=errors(400, 401, 403, 404, 413, 422), openapi_extra={**body(TRAFFIC), **BEARER})
    async def admin_traffic(name: str, request: Request) -> Response:
        """Body: `{"weights": {"prod": 90, "staging": 10}}`. New deployments load in the
        background and take traffic once warm. Weights are relative: when they do not sum to
        100 the answer's `notice` says how they were rescaled."""
        who = service.auth.check(request.headers.get("authorization"), "deploy")
        endpoint = service.endpoint(name, caller=who)
        payload = protocols.loads(await read_body(request, endpoint.spec.limits.max_body_bytes))
        weights = payload.get("weights") if isinstance(payload, dict) else None
        return json_response(await set_traffic(service, name, weights, who))

    @app.post("/admin/models/{name}/reload", tags=["admin"], summary="Poll the registry now.",
              responses=errors(401, 403, 404), openapi_extra=BEARER)
    async def admin_reload(name: str, request: Request) -> Response:
        who = service.auth.check(request.headers.get("authorization"), "deploy")
        service.endpoint(name, caller=who)
        service.pollers[name].poke()
        return json_response({"polling": True})


def endpoint_state(service: Service, name: str, who: str | None) -> dict[str, Any]:
    """An endpoint's deployments, versions, weights and shadow, its poller and capture, this
    worker's pid: what `GET /admin/models/{name}` answers (and the dashboard shows)."""
    status = service.endpoint(name, caller=who).status()
    poller = service.pollers[name]
    status["poller"] = {"polls": poller.polls, "failures": poller.failures, "last_error": poller.last_error}
    capture = service.captures[name]
    status["capture"] = {"written": capture.written, "dropped": capture.dropped,
                         "write_failures": capture.write_failures}
    status["pid"] = os.getpid()
    return status


async def set_traffic(service: Service, name: str, weights: object, who: str | None) -> dict[str, Any]:
    """A traffic change by the token named ``who`` (its permission checked by the caller):
    the weights checked, written and audited, this worker switched, the new deployments
    loading; the endpoint's status (with a ``notice`` when the weights were rescaled). The
    admin route and the dashboard's action both come here."""
    endpoint = service.endpoint(name, caller=who)
    clean = parse_weights(endpoint, weights)
    await run_in_threadpool(change_traffic, service, name, clean, f"token:{who}")
    endpoint.set_weights(clean)
    service.pollers[name].poke()  # load new deployments now
    status = endpoint.status()
    notice = rescaled_notice(clean)
    if notice is not None:  # relative weights: say how they were taken
        status["notice"] = notice
    return status


def parse_weights(endpoint: Endpoint, weights: object) -> dict[str, float]:
    """The body's weights, every deployment known to the endpoint (400 / 422 otherwise)."""
    if not isinstance(weights, dict) or not weights:
        raise MalformedRequest("send {'weights': {'prod': 90, 'staging': 10}}")
    clean: dict[str, float] = {}
    for key, value in weights.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidInput(f"weight of {key!r} must be a number >= 0", field=key)
        if not endpoint.known_name(str(key)):
            raise InvalidInput(
                f"unknown deployment {key!r}", field=key,
                hint=f"use a stage {endpoint.stages}, a version like v3, or one of serve.deployments",
            )
        clean[str(key)] = float(value)
    check_weights(clean)
    return clean


def change_traffic(service: Service, name: str, weights: dict[str, float], who: str) -> None:
    """Write the shared weights, then the audit event (old and new weights, the token's name),
    under the model's move lock (`TrafficStore.change`)."""
    service.traffic[name].change(weights, who, service.audit, service.environment)
