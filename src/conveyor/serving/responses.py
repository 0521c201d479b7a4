"""Responses, and the one place where an exception becomes a response.

:func:`error_response` serves the hot path (prediction routes, which bypass FastAPI) and
FastAPI (:func:`install`, for every other route) alike: a
:class:`~conveyor.serving.errors.ServingError` answers with its status, body and headers;
anything else is logged with its stack trace and answers a bare 500. No body ever carries
a stack trace.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from conveyor.serving.errors import ServingError
from conveyor.serving.requests import REQUEST_ID_HEADER, request_id

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

log = logging.getLogger("conveyor.serving")

JSON = "application/json"
DEPLOYMENT_HEADER = "x-conveyor-deployment"
VERSION_HEADER = "x-conveyor-version"
INTERNAL_ERROR = {"error_code": "INTERNAL_ERROR", "message": "internal error"}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, media_type=JSON, headers=headers)


def error_response(
    exc: BaseException, request_id: str, deployment: str | None = None, **context: Any
) -> Response:
    """The response for an exception raised while answering a request.

    `deployment`: the deployment that was chosen (sent back in its header); `context`:
    what the log line of an unexpected error names (model, path)."""
    headers = {REQUEST_ID_HEADER: request_id}
    if deployment and deployment != "-":
        headers[DEPLOYMENT_HEADER] = deployment
    if isinstance(exc, ServingError):
        return json_response(exc.body(request_id), exc.status, {**headers, **exc.headers()})
    log.error("request failed", exc_info=exc, extra={"request_id": request_id, **context})
    return json_response({**INTERNAL_ERROR, "request_id": request_id}, 500, headers)


def install(app: FastAPI) -> None:
    """Route every exception FastAPI's routes raise through :func:`error_response`
    (ServingError first: Starlette answers it without re-raising it to the server)."""

    async def handle(request: Request, exc: Exception) -> Response:
        return error_response(exc, request_id(request), path=request.url.path)

    app.add_exception_handler(ServingError, handle)
    app.add_exception_handler(Exception, handle)
