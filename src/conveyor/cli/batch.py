"""`conveyor predict`: batch scoring with a registered model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from conveyor.cli.common import (
    EnvOption,
    JsonOption,
    ProjectOption,
    StorageOption,
    handle_errors,
    load_project,
    redact,
    storage_options,
)


@handle_errors
def predict(
    model: Annotated[str, typer.Argument(help="NAME (the last stage's holder, e.g. churn = churn@prod), NAME@STAGE, NAME@latest (may be gate-failed: warned) or NAME@vN.")],
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="File, folder or glob; local or fsspec URL (default: batch.input).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output folder; local or fsspec URL (default: batch.output).")] = None,
    engine: Annotated[str, typer.Option(help="local (Arrow, N processes) or spark.")] = "local",
    master: Annotated[Optional[str], typer.Option(help="Spark master URL (default: runtime.spark.master or local[*]).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Worker processes (default: CPU cores); with --via-endpoint, concurrent requests.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run: skip parts already committed.")] = False,
    via_endpoint: Annotated[Optional[str], typer.Option("--via-endpoint", help="Score through a running endpoint at URL instead of loading the model.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Rows per part (default: batch.batch_size).")] = None,
    on_bad_rows: Annotated[Optional[str], typer.Option(help="fail or reject (default: batch.on_bad_rows).")] = None,
    storage_option: StorageOption = None,
    project: ProjectOption = None,
    env: EnvOption = None,
    json: JsonOption = False,
) -> None:
    """Score a batch with a registered model; commit Parquet parts and a manifest atomically."""
    from rich.markup import escape

    from conveyor.batch import predict as run_predict
    from conveyor.batch.progress import RichProgress
    from conveyor.cli.output import console, err_console, print_json
    from conveyor.core.errors import UsageError

    if engine not in ("local", "spark"):
        raise UsageError(f"unknown engine {engine!r}", hint="use --engine local or --engine spark")
    if on_bad_rows not in (None, "fail", "reject"):
        raise UsageError(f"unknown bad-row policy {on_bad_rows!r}", hint="use --on-bad-rows fail or reject")
    proj = load_project(project, env)
    result = run_predict(
        proj, model, input, output, engine=engine, master=master, workers=workers, resume=resume,  # type: ignore[arg-type]
        via_endpoint=via_endpoint, batch_size=batch_size, on_bad_rows=on_bad_rows,  # type: ignore[arg-type]
        storage_options=storage_options(storage_option), progress=RichProgress(err_console),
    )
    summary = result.summary()
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(redact(warning))}", soft_wrap=True)
    summary["manifest"] = redact(str(summary["manifest"]))
    if json:
        print_json(summary)  # from the manifest: its locations are already redacted
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
    console.print(f"  manifest: {redact(str(result.manifest_path))}  [dim]{m.duration_s:.1f}s{rate}[/]")
