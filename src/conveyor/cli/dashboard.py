"""`conveyor ui`: the dashboard alone, for people who do not serve (`conveyor serve` has it
at /ui too)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, ProjectOption, handle_errors, load_project

DEFAULT_PORT = 8080


@handle_errors
def ui(
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    server: Annotated[Optional[str], typer.Option(
        "--server", help="The `conveyor serve` whose endpoint it shows and acts on (default: "
        "serve.host/serve.port of the config).")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
) -> None:
    """Serve the dashboard: models, endpoint, monitoring and runs (pages under /ui, /healthz)."""
    import uvicorn

    from conveyor.cli.output import console
    from conveyor.cli.serving import server_url
    from conveyor.dashboard import RemoteLive, create_ui_app
    from conveyor.serving.logs import configure, uvicorn_log_config
    from conveyor.serving.server import ServeOptions, check_address

    options = ServeOptions(host=host, port=port, workers=1)
    check_address(options)  # a port in use is said before the stores are connected
    proj = load_project(project, env)
    server = server_url(proj, server)
    app = create_ui_app(proj.dashboard(RemoteLive(server)))
    proj.client  # connect (and migrate an embedded store) before the first page is asked for  # noqa: B018
    console.print(f"dashboard of {proj.name} on http://{host}:{port}/ui (endpoint: {server})",
                  markup=False, highlight=False)
    configure("info")
    uvicorn.run(app, host=host, port=port, log_config=uvicorn_log_config("info"), access_log=False)
