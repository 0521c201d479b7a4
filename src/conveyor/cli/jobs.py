"""`conveyor job run SPEC`: the one entry point every runner uses to start an operation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from conveyor.cli.common import EnvOption, ProjectOption, handle_errors, load_project

job_app = typer.Typer(
    name="job", help="Run one operation from its JSON spec (what schedulers and DAG tasks call).",
    no_args_is_help=True,
)


@job_app.command("run")
@handle_errors
def run(
    spec: Annotated[str, typer.Argument(help="Path of a JSON job spec, - for stdin, or the JSON itself.")],
    project: ProjectOption = None,
    env: EnvOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No step progress on stderr.")] = False,
    env_pack: Annotated[Optional[str], typer.Option("--env-pack", help="Run the job inside the environment pack at this URI (a version's conveyor.pack.uri): downloaded, its SHA-256 checked, unpacked once into the cache.")] = None,
) -> None:
    """Run a job (train, gate, promote, rollback, score, monitor, retrain, pack) from its spec;
    print one JSON line with its result and exit with the operation's code."""
    import json

    from conveyor.cli.output import RichReporter, err_console
    from conveyor.core.errors import ConfigError
    from conveyor.jobs import parse_spec
    from conveyor.lifecycle.progress import SilentReporter

    if spec == "-":
        text, where = sys.stdin.read(), "<stdin>"
    elif spec.lstrip().startswith("{"):  # the spec itself (a pod's or a Spark driver's argument)
        text, where = spec, "<argument>"
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
    if env_pack is not None:
        _run_in_pack(parsed, env_pack, quiet)
        return
    proj = load_project(Path(parsed.project), parsed.env)
    result = proj.run_job(parsed, SilentReporter() if quiet else RichReporter(err_console))
    print(json.dumps(result.to_dict(), default=str, separators=(",", ":")), flush=True)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _run_in_pack(spec: Any, uri: str, quiet: bool) -> None:
    """Fetch and check the pack, then hand the spec to its Python; a pack that cannot be used
    gives the job's failure line here, and nothing runs."""
    import json

    from conveyor.cli.output import err_console
    from conveyor.core.errors import ConveyorError
    from conveyor.jobs import run_in_pack
    from conveyor.packs import fetch_pack

    spec = spec.model_copy(update={"project": str(Path(spec.project).resolve())})
    try:
        folder = fetch_pack(uri)
    except ConveyorError as exc:
        line = {"job": spec.kind, "ok": False, "exit_code": int(exc.exit_code), "result": {},
                "error": exc.message, **({"hint": exc.hint} if exc.hint else {})}
        print(json.dumps(line, separators=(",", ":")), flush=True)
        raise
    if not quiet:
        err_console.print(f"note: running in pack {folder.name[:12]} ({folder})", markup=False,
                          highlight=False, soft_wrap=True)
    code = run_in_pack(spec.model_dump_json(), folder, quiet=quiet)
    if code:
        raise typer.Exit(code)
