"""`conveyor pack`: a registered version's environment as a relocatable tar.gz in the stand's
artifact store, recorded on the version."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, JsonOption, ProjectOption, handle_errors, load_project


@handle_errors
def pack(
    model: Annotated[Optional[str], typer.Argument(help="NAME (with --version), NAME@STAGE, NAME@vN or NAME@latest (default: the project's model, its last stage's holder).")] = None,
    version: Annotated[Optional[str], typer.Option("--version", "-v", help="Version number to pack.")] = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Build the version's environment (its logged requirements, conveyor as a wheel, the
    project's code) once per content address, verify it, store it and tag the version."""
    from conveyor.cli.output import RichReporter, console, err_console, print_json

    proj = load_project(project, env)
    result = proj.pack(model, version, reporter=RichReporter(err_console if json else console))
    if json:
        print_json(result.to_dict())
        return
    how = "built" if result.built else "reused (an identical environment was already stored)"
    console.print(f"[green]✓[/] {result.model} v{result.version}: pack {result.key[:12]} {how}, "
                  f"{result.size / 1e6:,.1f} MB, Python {result.python}  [dim]{result.duration_s:.1f}s[/]")
    console.print(f"  {result.uri}", markup=False, highlight=False, soft_wrap=True)
