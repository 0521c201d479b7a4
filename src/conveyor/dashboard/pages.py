"""The dashboard's pages (``/ui/...``): server-rendered HTML, one template per page. Each
panel on a page is filled by one request to its JSON endpoint (`api`); the forms of the
actions are rendered only for a viewer whose role may take them.

Every asset is served from the package (``/ui/static``: the page script, the chart script,
the style sheet) and the pages' Content-Security-Policy allows nothing else: a page makes no
request that leaves the server.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from conveyor.dashboard import panels
from conveyor.dashboard.access import Viewer, viewer_of
from conveyor.serving.errors import NotFound, Unauthorized

if TYPE_CHECKING:
    from fastapi import FastAPI
    from jinja2 import Environment

    from conveyor.dashboard.context import DashboardContext

PAGES = {"models": "Models", "endpoint": "Endpoint", "monitoring": "Monitoring", "runs": "Runs"}
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " \
      "connect-src 'self'; frame-ancestors 'self'; form-action 'self'"
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


@cache
def templates() -> Environment:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("conveyor.dashboard", "templates"),
                       autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = templates().get_template(template).render(**values)
    return HTMLResponse(html, status, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def register(app: FastAPI, context: DashboardContext) -> None:
    model = context.model

    def page(request: Request, name: str, kind: str) -> Response:
        try:
            viewer = viewer_of(context.authenticator(), request)
        except Unauthorized as exc:
            return render("login.html", 401, model=model, viewer=Viewer(None, frozenset(), None),
                          pages=PAGES, current="", message=exc.message, title="Sign in")
        if name != model:
            return render("missing.html", 404, model=model, viewer=viewer, pages=PAGES, current="",
                          message=f"no model named {name!r} here", title="Not found")
        return render(f"{kind}.html", model=model, viewer=viewer, pages=PAGES, current=kind,
                      title=f"{PAGES[kind]} · {model}", overview=panels.overview(context),
                      stages=list(context.config.stages))

    @app.get("/ui", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(f"/ui/models/{model}", 307)

    @app.get("/ui/login", include_in_schema=False)
    def login(request: Request) -> Response:
        return render("login.html", model=model, viewer=Viewer(None, frozenset(), None), pages=PAGES,
                      current="", message=None, title="Sign in")

    def route(kind: str) -> Callable[[str, Request], Response]:
        def show(name: str, request: Request) -> Response:
            return page(request, name, kind)

        return show

    for kind in PAGES:  # /ui/models/<name>, /ui/models/<name>/endpoint, …
        path = "/ui/models/{name}" + ("" if kind == "models" else f"/{kind}")
        app.add_api_route(path, route(kind), methods=["GET"], include_in_schema=False)

    @app.get("/ui/models/{name}/monitoring/{run_id}/report", include_in_schema=False)
    def report(name: str, run_id: str, request: Request) -> Response:
        viewer_of(context.authenticator(), request)
        panels.check_model(context, name)
        html = context.monitoring.report(run_id) if context.monitoring.get(run_id) else None
        if html is None:
            raise NotFound(f"monitoring run {run_id!r} of {name!r} has no report")
        return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})

    @app.get("/ui/models/{name}/runs/{run_id}/log", include_in_schema=False)
    def run_log(name: str, run_id: str, request: Request) -> Response:
        viewer_of(context.authenticator(), request)
        panels.check_model(context, name)
        text = context.history.log_text(run_id)
        if text is None:
            raise NotFound(f"run {run_id!r} of {name!r} has no log")
        return PlainTextResponse(text)
