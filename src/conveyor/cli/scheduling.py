"""`conveyor scheduler` (the embedded scheduler) and `conveyor runs` (its run history)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import (
    EnvOption,
    JsonOption,
    ModelArgument,
    ProjectOption,
    handle_errors,
    load_project,
    redact,
)


@handle_errors
def scheduler(
    project: ProjectOption = None,
    env: EnvOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="If another scheduler runs the project, wait for it to stop instead of refusing.")] = False,
) -> None:
    """Run train, batch and monitor on their cron schedules (and retrain on drift) until
    stopped; every run is recorded in MLflow (see `conveyor runs`)."""
    from conveyor.cli.output import console
    from conveyor.stack.processes import terminate_as_exit

    proj = load_project(project, env)
    running = proj.scheduler(
        notify=lambda line: console.print(redact(line), markup=False, highlight=False, soft_wrap=True)
    )
    if not running.pipelines:
        from conveyor.core.errors import UsageError

        raise UsageError(
            f"{proj.name} has no scheduled pipeline",
            hint="add a cron string as train.schedule, batch.schedule or monitor.schedule in conveyor.yaml",
        )
    with terminate_as_exit():
        running.start(wait=wait)
        try:
            names = ", ".join(f"{p.name} ({p.cron})" for p in running.pipelines)
            console.print(f"scheduler of {proj.name}: {names}, times in {proj.config.scheduler.timezone}",
                          markup=False, highlight=False)
            running.serve(once=once)
        finally:
            running.stop()


@handle_errors
def runs(
    name: ModelArgument = None,
    pipeline: Annotated[Optional[str], typer.Option("--pipeline", help="Only this pipeline (train, batch, monitor, retrain).")] = None,
    limit: Annotated[int, typer.Option(help="Newest N runs.")] = 50,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """The run history of every stand's scheduler: stand, pipeline, trigger, status, start, duration, MLflow run, log."""
    from conveyor.cli.output import console, print_json, runs_table

    proj = load_project(project, env)
    model = name or proj.name
    entries = proj.runs(model, pipeline=pipeline, limit=limit)
    if json:
        print_json({"model": model, "runs": [e.to_dict() for e in entries]})
    else:
        console.print(runs_table(model, entries))
