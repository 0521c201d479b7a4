"""Serving commands: serve, traffic, rollout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from conveyor.cli.common import (
    EnvOption,
    JsonOption,
    ModelArgument,
    ProjectOption,
    handle_errors,
    load_project,
    print_notice,
)
from conveyor.core.errors import ExitCode

UrlOption = Annotated[
    Optional[str], typer.Option("--url", help="Server URL (default: serve.host/serve.port of the config).")
]
TokenOption = Annotated[
    Optional[str],
    typer.Option("--token", envvar="CONVEYOR_TOKEN", help="Bearer token with role deploy (default: the local one `conveyor serve` wrote)."),
]

@handle_errors
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address (default: serve.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: serve.port, 8000).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Worker processes (default: one per CPU core).")] = None,
    poll: Annotated[Optional[float], typer.Option("--poll", help="Registry poll interval in seconds (default: serve.poll_s).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (JSON).")] = False,
    project: ProjectOption = None,
    env: EnvOption = None,
) -> None:
    """Serve the project's model: one endpoint, its deployments, traffic split, shadow, capture."""
    import sys
    from dataclasses import replace

    from conveyor.serving.server import ServeLaunch, check_address, options_for, run
    from conveyor.serving.supervisor import FollowerSpec, sqlite_files

    proj = load_project(project, env)
    options = replace(options_for(proj.config.serve, host, port, workers), access_log=access_log)
    check_address(options)  # a port in use is said before the store is connected
    loaded, stack = proj.loaded, proj.stack
    follower = [sys.executable, "-m", "conveyor", "serve-follow", "--project", str(loaded.project_dir),
                *(["--env", loaded.env_name] if loaded.env_name else []), *(["--poll", str(poll)] if poll else [])]
    watch = tuple(dict.fromkeys([*sqlite_files(stack.registry_uri), *sqlite_files(stack.tracking_uri)]))
    launch = ServeLaunch(loaded.project_dir, loaded.env_name, proj.config, "conveyor.app:serving_worker_context",
                         FollowerSpec(follower, watch, poll or proj.config.serve.poll_s))
    run(launch, options, poll_s=poll)


@handle_errors
def serve_follow(
    feed: Annotated[Path, typer.Option(help="The feed folder the workers read.")],
    linger: Annotated[Optional[float], typer.Option(help="Exit this many seconds after the start or the last SIGUSR1.")] = None,
    seed: Annotated[bool, typer.Option(help="Seed the traffic weights from the config first.")] = False,
    poll: Annotated[Optional[float], typer.Option("--poll", help="Registry poll interval in seconds.")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
) -> None:
    """`conveyor serve`'s registry follower (started by it): load models, publish them to the workers."""
    from conveyor.serving.follower import follow

    proj = load_project(project, env)
    proj.reap_orphans = seed  # the first run reaps orphaned runs, as `conveyor serve` did
    follow(proj.serving, feed, linger_s=linger, seed=seed, poll_s=poll)


def _admin_client(proj: Any, url: str | None, token: str | None) -> Any:
    from conveyor.serving.auth import read_local_token
    from conveyor.serving.client import AdminClient
    from conveyor.serving.context import state_dir

    return AdminClient(server_url(proj, url), token or read_local_token(state_dir(proj.path)))


def server_url(proj: Any, url: str | None) -> str:
    """``url``, else the config's server (serve.host/serve.port; a wildcard host as 127.0.0.1)."""
    if url is not None:
        return url
    spec = proj.config.serve
    host = "127.0.0.1" if spec.host in ("0.0.0.0", "::", "") else spec.host
    return f"http://{host}:{spec.port}"


@handle_errors
def traffic(
    name: ModelArgument = None,
    weights: Annotated[Optional[list[str]], typer.Argument(help="DEPLOYMENT=WEIGHT ... (e.g. prod=90 staging=10); none: show.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Show or change the traffic weights of a running server (every worker follows)."""
    from rich.table import Table

    from conveyor.cli.output import console, print_json
    from conveyor.core.errors import OptionError, RequestError
    from conveyor.serving.traffic import check_weights, parse_weights

    try:
        wanted = parse_weights(weights) if weights else None
        if wanted is not None:
            check_weights(wanted)
    except RequestError as exc:  # the same check a server's admin API answers with a 422
        raise OptionError(exc.message, hint=exc.hint or "e.g. conveyor traffic churn prod=90 staging=10") from None
    proj = load_project(project, env)
    model = name or proj.name
    client = _admin_client(proj, url, token)
    status = client.set_weights(model, wanted) if wanted is not None else client.status(model)
    if status.get("notice"):
        print_notice(str(status["notice"]))
    if json:
        print_json(status)
        return
    table = Table(title=f"{model}: deployments", title_justify="left")
    for column in ("deployment", "target", "version", "state", "weight"):
        table.add_column(column)
    total = sum(status["weights"].values()) or 1.0
    for d in status["deployments"]:
        share = f"{d['weight']:g} ({d['weight'] / total:.0%})" if d["weight"] else "0"
        table.add_row(d["deployment"], d["target"], f"v{d['version']}" if d["version"] else "-", d["state"], share)
    console.print(table)


@handle_errors
def rollout(
    name: ModelArgument = None,
    to: Annotated[str, typer.Option("--to", help="Candidate deployment: a stage (staging) or a version (v7).")] = ...,  # type: ignore[assignment]
    steps: Annotated[str, typer.Option(help="Candidate traffic percentages, rising.")] = "10,50,100",
    interval: Annotated[str, typer.Option(help="Time per step (30s, 5m, 1h).")] = "5m",
    champion: Annotated[Optional[str], typer.Option(help="Deployment to compare with (default: the heaviest other one).")] = None,
    promote: Annotated[bool, typer.Option(help="On success, move the champion's stage alias to the candidate's version.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Canary: shift traffic to a candidate step by step; roll back automatically if it is worse."""
    from conveyor.cli.output import console, err_console, print_json
    from conveyor.serving.rollout import Rollout, parse_duration, parse_steps

    proj = load_project(project, env)
    model = name or proj.name
    job = Rollout(
        _admin_client(proj, url, token), proj.audit_log, model, to,
        steps=parse_steps(steps), interval_s=parse_duration(interval), spec=proj.config.serve.rollout,
        champion=champion, environment=proj.loaded.env_name,
        echo=lambda line: (err_console if json else console).print(line, markup=False, highlight=False),
    )
    if promote:
        job.promote = lambda stage, version: proj.promote(
            stage, version, name=model, reason=f"rollout of {to} v{version} passed"
        )
    result = job.run()
    if json:
        print_json(result.to_dict())
    elif result.completed:
        console.print(f"[green]✓[/] {model}: {result.reason}")
    else:
        console.print(f"[red]✗[/] {model}: rolled back — {result.reason}", highlight=False)
    if result.rolled_back:
        raise typer.Exit(ExitCode.ROLLED_BACK)
