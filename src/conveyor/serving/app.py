"""The ASGI app, composed: the hot path in front of a FastAPI app that holds every route.

The prediction routes (:data:`~conveyor.serving.predict.PREDICT_ROUTES`) are answered by
:class:`~conveyor.serving.hotpath.HotPath` straight from the server (no FastAPI
middleware, no dependency injection); FastAPI serves everything else: health and metrics
(`health`), model metadata and feedback (`models`), admin (`admin`) and the OpenAPI docs at
`/docs` (`openapi`), where the prediction routes are documented too. Exceptions become
responses in `responses` alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from conveyor.serving import admin, health, models, openapi, predict, responses
from conveyor.serving.context import Extension
from conveyor.serving.hotpath import HotPath
from conveyor.serving.service import Service


def create_app(service: Service, extensions: Sequence[Extension] = ()) -> HotPath:
    """The ASGI app for a built service (see `conveyor.serving.service.build_service`);
    each extension adds its routes (the dashboard at /ui, handed in by the composition root)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    handlers = predict.handlers(service)
    app = FastAPI(
        title="conveyor",
        summary="Model endpoints: MLflow scoring protocol and Open Inference Protocol v2.",
        lifespan=lifespan,
        routes=[Route(path, handler, methods=["POST"]) for path, handler in handlers.items()],
    )
    app.state.service = service
    responses.install(app)
    health.register(app, service)
    models.register(app, service)
    admin.register(app, service)
    for extend in extensions:
        extend(app, service)
    openapi.install(app, service)
    return HotPath(app, list(handlers.items()))  # the FastAPI app keeps the routes too: docs, other methods
