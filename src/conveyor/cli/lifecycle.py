"""Lifecycle commands: init, train, models, promote, rollback, audit, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from conveyor.cli.common import (
    EnvOption,
    JsonOption,
    ModelArgument,
    ProjectOption,
    ReasonOption,
    handle_errors,
    load_project,
)


@handle_errors
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create.")],
    name: Annotated[Optional[str], typer.Option(help="Registered model name (default: the template's).")] = None,
    template: Annotated[
        str, typer.Option(help="classification (binary, generated churn data), multiclass (wine) or "
                          "regression (diabetes); the last two on scikit-learn's bundled data.")
    ] = "classification",
) -> None:
    """Scaffold a working project: conveyor.yaml, train.py, a data generator and its data."""
    from conveyor.cli.output import console
    from conveyor.scaffold import init_project

    created = init_project(folder, name=name, template=template)
    console.print(f"[green]✓[/] created {created}")
    console.print(f"  next: cd {created} && conveyor train")


@handle_errors
def train(project: ProjectOption = None, env: EnvOption = None, json: JsonOption = False) -> None:
    """Train, evaluate, gate and register the model; alias the first stage if the gate passes."""
    from conveyor.cli.output import RichReporter, console, err_console, print_json

    proj = load_project(project, env)
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

    proj = load_project(project, env)
    model = name or proj.name
    versions = proj.models(model, limit=limit)
    if json:
        print_json({"model": model, "versions": [v.to_dict() for v in versions]})
    else:
        console.print(versions_table(model, versions))


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

    proj = load_project(project, env)
    move = proj.promote(to, version, name=name, force=force, reason=reason)
    if json:
        print_json(move.to_dict())
    elif not move.changed:
        console.print(f"{move.model}: {move.stage} already at v{move.to_version}; nothing changed")
    else:
        frm = f"v{move.from_version}" if move.from_version else "none"
        console.print(f"[green]✓[/] {move.model}: {move.stage} {frm} → v{move.to_version}")
    if move.copy is not None and move.changed:
        how = "an earlier copy" if move.copy["reused"] else "copied"
        console.print(
            f"  on stand {move.copy['to_env'] or 'default'}: v{move.copy['to_version']} is {how} of "
            f"v{move.copy['from_version']} on stand {move.copy['from_env'] or 'default'}"
        )


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

    proj = load_project(project, env)
    move = proj.rollback(stage, name=name, reason=reason)
    if json:
        print_json(move.to_dict())
    else:
        console.print(
            f"[green]✓[/] {move.model}: {move.stage} rolled back v{move.from_version} → v{move.to_version}"
        )


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

    proj = load_project(project, env)
    events = proj.audit(name)
    if json:
        print_json(events)
        return
    table = Table(title=f"{name or proj.name}: audit log", title_justify="left")
    copies = any(e.get("copy") for e in events)
    for column in ("at", "who", "action", "stage", "from", "to", "forced", "reason",
                   *(["across stands"] if copies else [])):
        table.add_column(column)
    for e in events:
        table.add_row(
            e["at"][:19], e["who"], e["action"], e["stage"], str(e["from_version"] or "-"),
            "-" if e["to_version"] is None else str(e["to_version"]), "yes" if e["forced"] else "",
            e.get("reason") or "", *([_crossing(e.get("copy"))] if copies else []),
        )
    console.print(table)


@handle_errors
def demo(
    workspace: Annotated[Optional[Path], typer.Option(help="Folder to run in (default: a temp dir).")] = None,
) -> None:
    """Run the whole loop on the example, embedded default stack, in a temporary workspace."""
    from conveyor.cli.demo import run_demo

    run_demo(workspace)


def _crossing(copy: dict[str, object] | None) -> str:
    """``mdp v3 → sim v1``: what a cross-stand promotion copied."""
    if not copy:
        return ""
    return (f"{copy.get('from_env') or 'default'} v{copy.get('from_version')} → "
            f"{copy.get('to_env') or 'default'} v{copy.get('to_version')}")
