"""`conveyor monitor`: drift, performance and fairness against the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from conveyor.cli.common import (
    EnvOption,
    JsonOption,
    ModelArgument,
    ProjectOption,
    StorageOption,
    handle_errors,
    load_project,
    storage_options,
)
from conveyor.core.errors import ExitCode


@handle_errors
def monitor(
    name: ModelArgument = None,
    data: Annotated[Optional[str], typer.Option("--data", help="CSV/Parquet file, folder or glob; local or fsspec URL (a label column enables performance).")] = None,
    window: Annotated[Optional[str], typer.Option("--window", help="Captured traffic of the last 30m/24h/7d.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the HTML report here.")] = None,
    fail_on_drift: Annotated[bool, typer.Option("--fail-on-drift", help=f"Exit {ExitCode.DRIFT.value} on drift, {ExitCode.INSUFFICIENT_DATA.value} on insufficient data.")] = False,
    on_drift: Annotated[Optional[str], typer.Option("--on-drift", help="alert,retrain (default: monitor.on_drift).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="default | evidently | psi.")] = None,
    version: Annotated[Optional[str], typer.Option("--version", help="Version to check (default: prod's, else the latest stage's).")] = None,
    engine: Annotated[Optional[str], typer.Option("--engine", help="Where to profile --data: local (streamed here) or spark (default: monitor.engine).")] = None,
    master: Annotated[Optional[str], typer.Option("--master", help="Spark master URL (default: the environment's spark_master, runtime.spark.master, spark-submit's, else local[*]).")] = None,
    storage_option: StorageOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Check data, prediction and performance drift and fairness against the version's baseline."""
    from conveyor.cli.output import RichReporter, console, err_console, print_json

    proj = load_project(project, env)
    actions = None if on_drift is None else [a.strip() for a in on_drift.split(",") if a.strip()]
    result = proj.monitor(
        name, data=data, window=window, method=method, report=report, on_drift=actions,
        version=version, reporter=RichReporter(err_console if json else console),
        storage_options=storage_options(storage_option), engine=engine, master=master,
    )
    if json:
        print_json(result.to_dict())
    else:
        from conveyor.monitoring.terminal import print_result

        print_result(result, console)
    code = result.verdict.exit_code()
    if fail_on_drift and code != ExitCode.OK:
        raise typer.Exit(code)
