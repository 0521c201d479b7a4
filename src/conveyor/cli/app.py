"""`conveyor` commands. Imports stay lazy: `conveyor --help` loads no MLflow, pandas or sklearn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from conveyor.errors import ConveyorError, GateFailedError, TrainingError

app = typer.Typer(
    name="conveyor",
    help="One config per model: train, gate, register and promote on MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProjectOption = Annotated[
    Optional[Path], typer.Option("--project", "-p", help="Project folder (default: current).")
]
EnvOption = Annotated[
    Optional[str], typer.Option("--env", "-e", help="Environment (stand) from conveyor.yaml.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ModelArgument = Annotated[
    Optional[str], typer.Argument(help="Model name (default: the project's).")
]
ReasonOption = Annotated[
    Optional[str], typer.Option(help="Why; recorded in tags and the audit log.")
]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(function: F) -> F:
    """Turn conveyor errors into one clear line on stderr and the right exit code."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from conveyor.cli.output import err_console

        try:
            return function(*args, **kwargs)
        except TrainingError as exc:
            err_console.print(exc.user_traceback, markup=False, highlight=False)
            _print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except GateFailedError as exc:
            _print_error(exc)
            for reason in exc.reasons:
                err_console.print(f"  - {reason}", markup=False)
            raise typer.Exit(exc.exit_code) from None
        except ConveyorError as exc:
            _print_error(exc)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _print_error(exc: ConveyorError) -> None:
    from conveyor.cli.output import err_console

    from rich.text import Text

    err_console.print(Text("error: ", style="bold red") + Text(exc.message), soft_wrap=True)
    if exc.hint:
        err_console.print(f"  hint: {exc.hint}", markup=False, soft_wrap=True)


def _project(project: Path | None, env: str | None) -> Any:
    from conveyor.project import Project

    return Project.load(project, env=env)


@app.command()
@handle_errors
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create.")],
    name: Annotated[Optional[str], typer.Option(help="Registered model name (default: the example's).")] = None,
) -> None:
    """Scaffold a working project: conveyor.yaml, train.py, a data generator and its data."""
    from conveyor.cli.output import console
    from conveyor.scaffold import init_project

    created = init_project(folder, name=name)
    console.print(f"[green]✓[/] created {created}")
    console.print(f"  next: cd {created} && conveyor train")


@app.command()
@handle_errors
def train(project: ProjectOption = None, env: EnvOption = None, json: JsonOption = False) -> None:
    """Train, evaluate, gate and register the model; alias the first stage if the gate passes."""
    from conveyor.cli.output import RichReporter, console, err_console, print_json

    proj = _project(project, env)
    reporter = RichReporter(err_console if json else console)
    result = proj.train(reporter=reporter)
    if json:
        print_json(result.to_dict())
        return
    for check in result.verdict.checks:
        console.print(f"  [green]✓[/] {check.detail}", markup=True, highlight=False)
    console.print(
        f"[bold green]{result.model} v{result.version}[/] passed the gate → alias "
        f"[bold]{result.alias}[/]  (run {result.run_id})"
    )


@app.command()
@handle_errors
def models(
    name: ModelArgument = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    limit: Annotated[int, typer.Option(help="Newest N versions.")] = 20,
    json: JsonOption = False,
) -> None:
    """List versions with aliases, gate verdicts and key metrics."""
    from conveyor.cli.output import console, print_json, versions_table

    proj = _project(project, env)
    model = name or proj.name
    versions = proj.models(model, limit=limit)
    if json:
        print_json({"model": model, "versions": [v.to_dict() for v in versions]})
    else:
        console.print(versions_table(model, versions))


@app.command()
@handle_errors
def promote(
    name: ModelArgument = None,
    to: Annotated[str, typer.Option("--to", help="Target stage.")] = ...,  # type: ignore[assignment]
    version: Annotated[Optional[str], typer.Option(help="Version (default: the previous stage's holder).")] = None,
    force: Annotated[bool, typer.Option(help="Skip the gate and order checks (needs --reason).")] = False,
    reason: ReasonOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Move a stage alias to a gate-passed version coming from the previous stage."""
    from conveyor.cli.output import console, print_json

    proj = _project(project, env)
    move = proj.promote(to, version, name=name, force=force, reason=reason)
    if json:
        print_json(move.to_dict())
    elif not move.changed:
        console.print(f"{move.model}: {move.stage} already at v{move.to_version}; nothing changed")
    else:
        frm = f"v{move.from_version}" if move.from_version else "none"
        console.print(f"[green]✓[/] {move.model}: {move.stage} {frm} → v{move.to_version}")


@app.command()
@handle_errors
def rollback(
    name: ModelArgument = None,
    stage: Annotated[str, typer.Option("--stage", help="Stage to roll back.")] = ...,  # type: ignore[assignment]
    reason: ReasonOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Return a stage alias to its previous holder."""
    from conveyor.cli.output import console, print_json

    proj = _project(project, env)
    move = proj.rollback(stage, name=name, reason=reason)
    if json:
        print_json(move.to_dict())
    else:
        console.print(
            f"[green]✓[/] {move.model}: {move.stage} rolled back v{move.from_version} → v{move.to_version}"
        )


@app.command()
@handle_errors
def audit(
    name: ModelArgument = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Show the audit log of stage moves (who, when, from, to, reason)."""
    from rich.table import Table

    from conveyor.cli.output import console, print_json

    proj = _project(project, env)
    events = proj.audit(name)
    if json:
        print_json(events)
        return
    table = Table(title=f"{name or proj.name}: audit log", title_justify="left")
    for column in ("at", "who", "action", "stage", "from", "to", "forced", "reason"):
        table.add_column(column)
    for e in events:
        table.add_row(
            e["at"][:19], e["who"], e["action"], e["stage"], str(e["from_version"] or "-"),
            str(e["to_version"]), "yes" if e["forced"] else "", e.get("reason") or "",
        )
    console.print(table)


DRIFT_EXIT_CODE = 3


@app.command()
@handle_errors
def monitor(
    name: ModelArgument = None,
    data: Annotated[Optional[str], typer.Option("--data", help="CSV/Parquet to check (a label column enables performance).")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Captured traffic of the last 30m/24h/7d.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the HTML report here.")] = None,
    fail_on_drift: Annotated[bool, typer.Option("--fail-on-drift", help="Exit 3 when drift is detected.")] = False,
    on_drift: Annotated[Optional[str], typer.Option("--on-drift", help="alert,retrain (default: monitor.on_drift).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="default | evidently | psi.")] = None,
    version: Annotated[Optional[str], typer.Option("--version", help="Version to check (default: prod's, else the latest stage's).")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Check data, prediction and performance drift and fairness against the version's baseline."""
    from conveyor.cli.output import RichReporter, console, err_console, print_json
    from conveyor.monitoring.monitor import run_monitor

    proj = _project(project, env)
    actions = None if on_drift is None else [a.strip() for a in on_drift.split(",") if a.strip()]
    result = run_monitor(
        proj, name, data=data, window=window, method=method, report=report, on_drift=actions,
        version=version, reporter=RichReporter(err_console if json else console),
    )
    if json:
        print_json(result.to_dict())
    else:
        from conveyor.monitoring.terminal import print_result

        print_result(result, console)
    if fail_on_drift and result.drift_detected:
        raise typer.Exit(DRIFT_EXIT_CODE)


@app.command()
@handle_errors
def predict(
    model: Annotated[str, typer.Argument(help="NAME@STAGE (churn@prod), NAME@latest or NAME@vN.")],
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="File, folder or glob; local or fsspec URL (default: batch.input).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output folder; local or fsspec URL (default: batch.output).")] = None,
    engine: Annotated[str, typer.Option(help="local (Arrow, N processes) or spark.")] = "local",
    master: Annotated[Optional[str], typer.Option(help="Spark master URL (default: runtime.spark.master or local[*]).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Worker processes (default: CPU cores); with --via-endpoint, concurrent requests.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run: skip parts already committed.")] = False,
    via_endpoint: Annotated[Optional[str], typer.Option("--via-endpoint", help="Score through a running endpoint at URL instead of loading the model.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Rows per part (default: batch.batch_size).")] = None,
    on_bad_rows: Annotated[Optional[str], typer.Option(help="fail or reject (default: batch.on_bad_rows).")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Score a batch with a registered model; commit Parquet parts and a manifest atomically."""
    from conveyor.batch import predict as run_predict
    from conveyor.batch.errors import InputError
    from conveyor.batch.progress import RichProgress
    from conveyor.cli.output import console, err_console, print_json

    if engine not in ("local", "spark"):
        raise InputError(f"unknown engine {engine!r}", hint="use --engine local or --engine spark")
    if on_bad_rows not in (None, "fail", "reject"):
        raise InputError(f"unknown bad-row policy {on_bad_rows!r}", hint="use --on-bad-rows fail or reject")
    proj = _project(project, env)
    result = run_predict(
        proj, model, input, output, engine=engine, master=master, workers=workers, resume=resume,  # type: ignore[arg-type]
        via_endpoint=via_endpoint, batch_size=batch_size, on_bad_rows=on_bad_rows,  # type: ignore[arg-type]
        progress=RichProgress(err_console),
    )
    summary = result.summary()
    if json:
        print_json(summary)
        return
    m = result.manifest
    if result.already_committed:
        console.print(f"{m.output} is already committed; nothing to do")
    console.print(
        f"[green]✓[/] {m.model['name']} v{m.model['version']} scored {m.rows_in:,} rows → "
        f"{m.rows_out:,} out, {m.rejected:,} rejected, {len(m.parts)} parts"
        + (f" ({m.resumed_parts} resumed)" if m.resumed_parts else "")
    )
    rate = f", {summary['rows_per_s']:,} rows/s" if summary["rows_per_s"] else ""
    console.print(f"  manifest: {result.manifest_path}  [dim]{m.duration_s:.1f}s{rate}[/]")


UrlOption = Annotated[
    Optional[str], typer.Option("--url", help="Server URL (default: serve.host/serve.port of the config).")
]
TokenOption = Annotated[
    Optional[str],
    typer.Option("--token", envvar="CONVEYOR_TOKEN", help="Bearer token with role deploy (default: the local one `conveyor serve` wrote)."),
]
ROLLED_BACK_EXIT_CODE = 4


@app.command()
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
    from dataclasses import replace

    from conveyor.serving.server import options_for, run

    proj = _project(project, env)
    options = replace(options_for(proj, host, port, workers), access_log=access_log)
    run(proj, options, poll_s=poll)


def _admin_client(proj: Any, url: str | None, token: str | None) -> Any:
    from conveyor.serving.auth import read_local_token
    from conveyor.serving.client import AdminClient
    from conveyor.serving.server import state_dir

    spec = proj.config.serve
    if url is None:
        host = "127.0.0.1" if spec.host in ("0.0.0.0", "::", "") else spec.host
        url = f"http://{host}:{spec.port}"
    return AdminClient(url, token or read_local_token(state_dir(proj)))


@app.command()
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
    from conveyor.serving.traffic import parse_weights

    proj = _project(project, env)
    model = name or proj.name
    client = _admin_client(proj, url, token)
    status = client.set_weights(model, parse_weights(weights)) if weights else client.status(model)
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


@app.command()
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

    proj = _project(project, env)
    model = name or proj.name
    job = Rollout(
        _admin_client(proj, url, token), proj.promoter.audit, model, to,
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
        raise typer.Exit(ROLLED_BACK_EXIT_CODE)


@app.command()
@handle_errors
def demo(
    workspace: Annotated[Optional[Path], typer.Option(help="Folder to run in (default: a temp dir).")] = None,
) -> None:
    """Run the whole loop on the example, embedded default stack, in a temporary workspace."""
    from conveyor.demo import run_demo

    run_demo(workspace)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
