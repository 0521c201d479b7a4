"""`conveyor` commands. Imports stay lazy: `conveyor --help` loads no MLflow, pandas or sklearn.

A command is a short-lived process, and most of its fixed cost is importing MLflow, its SQL
store and pandas: :func:`main` makes the cyclic garbage collector run less often while
they import (tens of thousands of objects that live until exit, collected again and
again), and once the command is done ends the process without tearing those modules down
one object at a time — after what normal exit does that matters (non-daemon threads
joined, ``atexit`` handlers run, output flushed); under a tracer or profiler it exits as usual.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Annotated

import typer

from conveyor.cli import (
    batch,
    dashboard,
    exports,
    learn,
    lifecycle,
    monitoring,
    packs,
    scheduling,
    serving,
    stream,
)
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
    stream.stream,
    learn.learn,
    scheduling.scheduler,
    scheduling.runs,
    dashboard.ui,
    packs.pack,
    exports.release,
    lifecycle.demo,
):
    app.command()(command)
app.command("serve-follow", hidden=True)(serving.serve_follow)  # started by `conveyor serve`
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


COLLECT_EVERY = 100_000  # allocations between young-generation collections (Python's default: 700)


def main() -> None:
    gc.set_threshold(COLLECT_EVERY, 20, 100)
    try:
        app()
        code: object = 0
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED.value
    except SystemExit as stop:  # how typer ends every command
        code = stop.code
    exit_now(code)


def exit_now(code: object) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown:
    non-daemon threads joined, ``atexit`` handlers run, output flushed, then ``os._exit``."""
    import atexit
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    if sys.gettrace() is not None or sys.getprofile() is not None:  # a debugger, coverage, cProfile:
        sys.exit(status)  # they write their results in the interpreter's own exit
    shutdown = getattr(threading, "_shutdown", None)  # what exit does first: join the threads
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for handle in (sys.stdout, sys.stderr):
        try:
            handle.flush()
        except (OSError, ValueError):  # a closed pipe (`conveyor models | head`)
            pass
    os._exit(status)
