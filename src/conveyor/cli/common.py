"""Shared pieces of the command line: options, project loading, error rendering and the one
place where exceptions become exit codes (through :class:`conveyor.core.errors.ExitCode`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from conveyor.core.errors import ConveyorError, GateFailedError, TrainingError, exit_code_of

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
StorageOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--storage-option",
        help="fsspec storage option KEY=VALUE for URLs (repeatable; VALUE may be JSON, e.g. "
        "client_kwargs='{\"endpoint_url\": \"http://minio:9000\"}'); over the config's storage_options.",
    ),
]
ReasonOption = Annotated[
    Optional[str], typer.Option(help="Why; recorded in tags and the audit log.")
]

F = TypeVar("F", bound=Callable[..., Any])

# The secrets of the projects this command loaded: an error message built deep inside
# (a path, a URL, a driver's text) is redacted with them before it reaches the terminal.
_LOADED_SECRETS: list[Any] = []


def redact(text: str) -> str:
    """``text`` with every value that came from a ``${VAR}`` of a loaded config masked."""
    from conveyor.core.config.secrets import redact_uri_password

    for secrets in _LOADED_SECRETS:
        text = secrets.redact(text)
    return redact_uri_password(text)


def handle_errors(function: F) -> F:
    """Turn conveyor errors into one clear line on stderr and the right exit code."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from conveyor.cli.output import err_console

        try:
            return function(*args, **kwargs)
        except ConveyorError as exc:
            if isinstance(exc, TrainingError) and exc.user_traceback:
                err_console.print(redact(exc.user_traceback), markup=False, highlight=False)
            print_error(exc)
            if isinstance(exc, GateFailedError):
                for reason in exc.reasons:
                    err_console.print(f"  - {redact(reason)}", markup=False)
            raise typer.Exit(exit_code_of(exc)) from None

    return wrapper  # type: ignore[return-value]


def print_error(exc: ConveyorError) -> None:
    from rich.text import Text

    from conveyor.cli.output import err_console

    err_console.print(Text("error: ", style="bold red") + Text(redact(exc.message)), soft_wrap=True)
    if exc.hint:
        err_console.print(f"  hint: {redact(exc.hint)}", markup=False, soft_wrap=True)


def storage_options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as fsspec storage options; a VALUE that parses as JSON is taken as
    JSON (numbers, booleans, objects), any other as a string."""
    import json

    from conveyor.core.errors import UsageError

    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--storage-option {pair!r} is not KEY=VALUE", hint="e.g. --storage-option anon=true")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


def load_project(project: Path | None, env: str | None) -> Any:
    from conveyor.app import Project

    loaded = Project.load(project, env=env, notify=print_notice)
    _LOADED_SECRETS.append(loaded.loaded.secrets)
    return loaded


def print_notice(message: str) -> None:
    """One line on stderr about something a command did on the side (an orphaned run closed)."""
    from conveyor.cli.output import err_console

    err_console.print(f"note: {redact(message)}", markup=False, highlight=False, soft_wrap=True)
