"""Prediction requests go straight to their handler; everything else to the FastAPI app.

FastAPI wraps every route in several middleware layers (error handling, exception
telemetry, body limits, an exit stack) that cost more per request than a micro-batched
prediction of the inference plan. The prediction handlers answer every error themselves
(through `responses.error_response`), so this thin ASGI front matches their paths first
and hands the rest of the traffic (docs, admin, health, lifespan) to the full app, which
also documents the prediction routes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("conveyor.serving")

Handler = Callable[[Request], Awaitable[Response]]
ASGIApp = Callable[..., Awaitable[None]]


def path_pattern(template: str) -> re.Pattern[str]:
    """``/models/{name}/invocations`` → a regex with one named group per parameter."""
    parts = re.split(r"\{(\w+)\}", template)
    body = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{body}$")


class HotPath:
    """An ASGI app: POSTs to the given path templates call their handler directly."""

    def __init__(self, app: Any, routes: list[tuple[str, Handler]]) -> None:
        self.app = app
        self.routes = [(path_pattern(template), handler) for template, handler in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            for pattern, handler in self.routes:
                match = pattern.match(path)
                if match is not None:
                    scope["path_params"] = match.groupdict()
                    scope.setdefault("app", self.app)
                    response = await handler(Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        """Everything else (state, openapi, routes, …) is the full app's."""
        return getattr(self.app, name)
