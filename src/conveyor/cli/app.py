"""`conveyor` commands. Imports stay lazy: `conveyor --help` loads no MLflow, pandas or sklearn."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from conveyor.cli import batch, exports, lifecycle, monitoring, packs, scheduling, serving
from conveyor.cli.exports import export_app
from conveyor.cli.jobs import job_app
from conveyor.core.errors import ExitCode

app = typer.Typer(
    name="conveyor",
    help="One config per model: train, gate, register and promote on MLflow.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)

for command in (
    lifecycle.init,
    lifecycle.train,
    lifecycle.models,
    lifecycle.promote,
    lifecycle.rollback,
    lifecycle.audit,
    monitoring.monitor,
    batch.predict,
    serving.serve,
    serving.traffic,
    serving.rollout,
    scheduling.scheduler,
    scheduling.runs,
    packs.pack,
    exports.release,
    lifecycle.demo,
):
    app.command()(command)
app.add_typer(job_app)
app.add_typer(export_app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"conveyor {version('conveyor')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """One config per model: train, gate, register and promote on MLflow."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
