"""`conveyor job run SPEC`: the one entry point every runner uses to start an operation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli.common import EnvOption, ProjectOption, handle_errors, load_project

job_app = typer.Typer(
    name="job", help="Run one operation from its JSON spec (what schedulers and DAG tasks call).",
    no_args_is_help=True,
)


@job_app.command("run")
@handle_errors
def run(
    spec: Annotated[str, typer.Argument(help="Path of a JSON job spec, or - for stdin.")],
    project: ProjectOption = None,
    env: EnvOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No step progress on stderr.")] = False,
) -> None:
    """Run a job (train, gate, promote, rollback, score, monitor, retrain) from its spec;
    print one JSON line with its result and exit with the operation's code."""
    import json

    from conveyor.cli.output import RichReporter, err_console
    from conveyor.core.errors import ConfigError
    from conveyor.jobs import parse_spec
    from conveyor.lifecycle.progress import SilentReporter

    if spec == "-":
        text, where = sys.stdin.read(), "<stdin>"
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"job spec {spec} not found", file=spec,
                              hint="pass the path of a JSON spec, or - to read it from stdin")
        text, where = path.read_text(encoding="utf-8"), spec
    parsed = parse_spec(text, where)
    overrides = {k: v for k, v in {"project": str(project) if project else None, "env": env}.items() if v}
    if overrides:
        parsed = parsed.model_copy(update=overrides)
    proj = load_project(Path(parsed.project), parsed.env)
    result = proj.run_job(parsed, SilentReporter() if quiet else RichReporter(err_console))
    print(json.dumps(result.to_dict(), default=str, separators=(",", ":")), flush=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)
