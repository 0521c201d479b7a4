"""The dashboard's JSON endpoints (``/ui/api/...``), in the OpenAPI document under the tag
``dashboard``: one per panel, paged (``limit``, and the previous answer's ``next``), and the
actions, each the same code its command runs.

Reading needs what the endpoint's model list needs (anyone while predictions are open,
else a token); actions need role deploy and a JSON body (`access.actor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from conveyor.core.errors import (
    PromotionError,
    RegistryError,
    RolloutError,
    StoreUnreachableError,
)
from conveyor.dashboard import panels
from conveyor.dashboard.access import COOKIE, SIGN_IN, Viewer, actor, viewer_of
from conveyor.dashboard.paging import PageRequest
from conveyor.serving import protocols
from conveyor.serving.errors import (
    BadGateway,
    Conflict,
    InvalidInput,
    MalformedRequest,
    NotFound,
    Unauthorized,
)
from conveyor.serving.openapi import BEARER, body, errors
from conveyor.serving.requests import read_body
from conveyor.serving.responses import json_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.dashboard.context import DashboardContext

T = TypeVar("T")
PREFIX = "/ui/api"
MAX_BODY = 64 * 1024
TAG: list[str | Enum] = ["dashboard"]
READ = errors(401, 404, 422)
ACTION = errors(400, 401, 403, 404, 409, 415, 422, 502)
SESSION = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
WEIGHTS = {"type": "object", "required": ["weights"], "properties": {"weights": {
    "type": "object", "additionalProperties": {"type": "number", "minimum": 0}}},
    "example": {"weights": {"prod": 90, "staging": 10}}}
ROLLBACK = {"type": "object", "required": ["stage"], "properties": {
    "stage": {"type": "string"}, "reason": {"type": "string"}}}
CANARY = {"type": "object", "required": ["to"], "properties": {
    "to": {"type": "string", "description": "candidate deployment: a stage or vN"},
    "steps": {"type": "string", "example": "10,50,100"}, "interval": {"type": "string", "example": "5m"}}}


@contextmanager
def answering() -> Iterator[None]:
    """The errors of the lifecycle and the stores, as the HTTP errors they mean."""
    try:
        yield
    except (PromotionError, RolloutError) as exc:
        raise Conflict(exc.message, hint=exc.hint) from None
    except RegistryError as exc:
        raise NotFound(exc.message, hint=exc.hint) from None
    except StoreUnreachableError as exc:
        raise BadGateway(exc.message, hint=exc.hint) from None


def register(app: FastAPI, context: DashboardContext) -> None:
    def viewer(request: Request) -> Viewer:
        return viewer_of(context.authenticator(), request)

    def read(request: Request, name: str, panel: Callable[[], T]) -> T:
        viewer(request)
        panels.check_model(context, name)
        with answering():
            return panel()

    def read_page(request: Request, name: str, limit: int | None, next: str | None,
                  panel: Callable[[PageRequest], T]) -> Response:
        paged = PageRequest.of(limit, next)
        return json_response(read(request, name, lambda: panel(paged)))

    @app.get(f"{PREFIX}/session", tags=TAG, summary="Who the token is: name, roles, the actions it may take.",
             responses=errors(401), openapi_extra=BEARER)
    def session(request: Request) -> Response:
        return json_response(viewer(request).to_dict())

    @app.put(f"{PREFIX}/session", tags=TAG, summary="Sign in: keep a valid token in a session cookie.",
             responses=errors(400, 401), openapi_extra=body(SESSION))
    async def sign_in(request: Request) -> Response:
        payload = protocols.loads(await read_body(request, MAX_BODY))
        token = payload.get("token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise MalformedRequest("send {'token': '...'}")
        credential = context.authenticator().identify(f"Bearer {token.strip()}")
        if credential is None:
            raise Unauthorized("the token is not valid", hint=SIGN_IN)
        response = json_response(Viewer(credential.name, credential.grants, None).to_dict())
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/ui")
        return response

    @app.delete(f"{PREFIX}/session", tags=TAG, summary="Sign out.")
    def sign_out() -> Response:
        response = json_response({"signed_out": True})
        response.delete_cookie(COOKIE, path="/ui")
        return response

    @app.get(f"{PREFIX}/models/{{name}}", tags=TAG, summary="The model, its stages and their stands.",
             responses=READ, openapi_extra=BEARER)
    def overview(name: str, request: Request) -> Response:
        return json_response(read(request, name, lambda: panels.overview(context)))

    @app.get(f"{PREFIX}/models/{{name}}/stages", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="Which version holds each stage alias on which stand, since when, by whom, why.")
    def stages(name: str, request: Request) -> Response:
        return json_response(read(request, name, lambda: panels.stages(context, name)))

    @app.get(f"{PREFIX}/models/{{name}}/versions", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="A stand's versions, newest first: aliases, gate verdict and checks, key metrics (paged).")
    def versions(name: str, request: Request, stand: str | None = None, limit: int | None = None,
                 next: str | None = None) -> Response:
        return read_page(request, name, limit, next, lambda paged: panels.versions(context, name, paged, stand))

    @app.get(f"{PREFIX}/models/{{name}}/history", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="A stand's audit events, newest first: alias moves (kind=moves) or endpoint changes (kind=live).")
    def history(name: str, request: Request, kind: str = "moves", stand: str | None = None,
                limit: int | None = None, next: str | None = None) -> Response:
        kinds = {"moves": panels.MOVES, "live": panels.LIVE}.get(kind)
        if kinds is None:
            raise InvalidInput(f"kind must be moves or live, not {kind!r}", field="kind")
        return read_page(request, name, limit, next,
                         lambda paged: panels.history(context, name, paged, kinds, stand))

    @app.get(f"{PREFIX}/models/{{name}}/lineage", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="Drift → retrained version → promotions, newest first (paged).")
    def lineage(name: str, request: Request, limit: int | None = None, next: str | None = None) -> Response:
        return read_page(request, name, limit, next, lambda paged: panels.lineage(context, name, paged))

    @app.get(f"{PREFIX}/models/{{name}}/endpoint", tags=TAG, responses=errors(401, 404, 502),
             openapi_extra=BEARER,
             summary="Deployments, weights, shadow; requests, errors, p95 per deployment; the canary.")
    def endpoint(name: str, request: Request) -> Response:
        seen = viewer(request)
        panels.check_model(context, name)
        return json_response(panels.endpoint(context, name, seen))

    @app.get(f"{PREFIX}/models/{{name}}/monitoring", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="Monitoring runs, newest first: drift per feature, performance, fairness (paged).")
    def monitoring(name: str, request: Request, limit: int | None = None, next: str | None = None) -> Response:
        return read_page(request, name, limit, next, lambda paged: panels.monitoring(context, name, paged))

    @app.get(f"{PREFIX}/models/{{name}}/runs", tags=TAG, responses=READ, openapi_extra=BEARER,
             summary="Pipeline runs, newest first: status, trigger, duration, MLflow run, log (paged).")
    def runs(name: str, request: Request, pipeline: str | None = None, limit: int | None = None,
             next: str | None = None) -> Response:
        paged = PageRequest.of(limit, next)
        return json_response(read(request, name, lambda: panels.runs(context, name, pipeline, paged)))

    # -- actions ------------------------------------------------------------------------

    async def action(request: Request, name: str) -> tuple[Viewer, dict[str, Any]]:
        who = actor(context.authenticator(), request)
        panels.check_model(context, name)
        payload = protocols.loads(await read_body(request, MAX_BODY))
        if not isinstance(payload, dict):
            raise MalformedRequest("send a JSON object")
        return who, payload

    @app.put(f"{PREFIX}/models/{{name}}/traffic", tags=TAG, responses=ACTION,
             openapi_extra={**body(WEIGHTS), **BEARER},
             summary="Change the traffic weights (as `conveyor traffic`; audited).")
    async def traffic(name: str, request: Request) -> Response:
        who, payload = await action(request, name)
        return json_response(await context.live.set_weights(name, payload.get("weights"), who))

    @app.post(f"{PREFIX}/models/{{name}}/rollback", tags=TAG, responses=ACTION,
              openapi_extra={**body(ROLLBACK), **BEARER},
              summary="Return a stage alias to its previous holder (as `conveyor rollback`; audited).")
    async def rollback(name: str, request: Request) -> Response:
        who, payload = await action(request, name)
        stage, reason = payload.get("stage"), payload.get("reason")
        if not isinstance(stage, str) or stage not in context.config.stages:
            raise InvalidInput(f"stage must be one of {list(context.config.stages)}", field="stage")
        with answering():
            move = await run_in_threadpool(
                lambda: context.promoter.rollback(name, stage, reason=str(reason or "") or None,
                                                  who=f"token:{who.name}"))
        return json_response(move.to_dict())

    @app.post(f"{PREFIX}/models/{{name}}/canary", tags=TAG, responses=ACTION,
              openapi_extra={**body(CANARY), **BEARER},
              summary="Start a canary rollout (as `conveyor rollout`; every step audited).")
    async def canary_start(name: str, request: Request) -> Response:
        who, payload = await action(request, name)
        url = context.live.admin_url(request)
        with answering():
            state = await run_in_threadpool(
                context.canaries.start, name, payload.get("to"), payload.get("steps"), payload.get("interval"),
                url, who.token, f"token:{who.name}")
        return json_response(state, 202)

    @app.delete(f"{PREFIX}/models/{{name}}/canary", tags=TAG, responses=ACTION, openapi_extra=BEARER,
                summary="Stop the canary (a running or an interrupted one): traffic restored, the stop audited.")
    async def canary_stop(name: str, request: Request) -> Response:
        who = actor(context.authenticator(), request)
        panels.check_model(context, name)
        state = await run_in_threadpool(context.canaries.stop, name, f"token:{who.name}",
                                        context.live.admin_url(request), who.token)
        return json_response(state)

    @app.post(f"{PREFIX}/models/{{name}}/canary/resume", tags=TAG, responses=ACTION, openapi_extra=BEARER,
              summary="Resume an interrupted canary from the step it was at (its process had stopped).")
    async def canary_resume(name: str, request: Request) -> Response:
        who = actor(context.authenticator(), request)
        panels.check_model(context, name)
        state = await run_in_threadpool(context.canaries.resume, name, context.live.admin_url(request),
                                        who.token, f"token:{who.name}")
        return json_response(state, 202)
