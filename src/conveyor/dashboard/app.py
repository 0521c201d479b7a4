"""The dashboard on an app: mounted into `conveyor serve`'s (at /ui, :func:`mount`), or an
app of its own for `conveyor ui` (:func:`create_ui_app`, with /healthz for probes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.dashboard import api, pages

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.dashboard.context import DashboardContext

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI, context: DashboardContext) -> None:
    """The dashboard's pages, JSON endpoints and assets on ``app``."""
    from starlette.staticfiles import StaticFiles

    api.register(app, context)
    pages.register(app, context)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")


def create_ui_app(context: DashboardContext) -> FastAPI:
    """The dashboard alone (`conveyor ui`)."""
    from fastapi import FastAPI
    from starlette.responses import RedirectResponse, Response

    from conveyor.serving import responses

    app = FastAPI(title="conveyor dashboard", summary="Models, endpoint, monitoring and runs of one project.")
    responses.install(app)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers.")
    def healthz() -> Response:
        return responses.json_response({"status": "ok"})

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/ui", 307)

    mount(app, context)
    return app
