"""Console output: step progress, tables, JSON, and error rendering."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from conveyor.lifecycle.registry import VersionInfo
    from conveyor.scheduling import Entry

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

KEY_METRICS = ("roc_auc", "f1", "accuracy", "rmse", "mae", "r2")


class RichReporter:
    """Shows each pipeline step with a spinner while it runs and its time when done."""

    def __init__(self, out: Console = console) -> None:
        self.out = out

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.out.status(f"{title}…"):
            try:
                yield
            except BaseException:
                self.out.print(f"[red]✗[/] {title}")
                raise
        self.out.print(f"[green]✓[/] {title} [dim]{time.perf_counter() - started:.2f}s[/]")

    def info(self, message: str) -> None:
        self.out.print(message)


def print_json(payload: Any) -> None:
    console.print_json(json.dumps(payload, default=str))


def versions_table(model: str, versions: list[VersionInfo]) -> Table:
    table = Table(title=f"{model}: model versions", title_justify="left")
    table.add_column("version", justify="right")
    table.add_column("aliases")
    table.add_column("gate")
    metric_names = [m for m in KEY_METRICS if any(m in v.metrics for v in versions)]
    for name in metric_names:
        table.add_column(name, justify="right")
    table.add_column("created")
    copied = any(info.copied_from for info in versions)
    if copied:
        table.add_column("copied from")
    table.add_column("reasons", overflow="fold")
    for info in versions:
        gate_style = {"passed": "green", "failed": "red"}.get(info.gate, "yellow")
        table.add_row(
            info.version,
            ", ".join(info.aliases) or "-",
            f"[{gate_style}]{info.gate}[/]",
            *[f"{info.metrics[m]:.4f}" if m in info.metrics else "-" for m in metric_names],
            datetime.fromtimestamp(info.created / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
            *([info.copied_from or "-"] if copied else []),
            "; ".join(info.reasons) or "",
        )
    return table


def runs_table(model: str, entries: list[Entry]) -> Table:
    """The schedulers' run history (every stand's), newest first."""
    table = Table(title=f"{model}: pipeline runs", title_justify="left")
    for column in ("stand", "pipeline", "trigger", "slot", "status", "start", "duration", "MLflow run", "detail", "log"):
        table.add_column(column, overflow="fold")
    styles = {"succeeded": "green", "rejected": "yellow", "skipped": "dim", "running": "cyan"}
    for e in entries:
        duration = "" if e.duration_s is None else f"{e.duration_s:.1f}s"
        table.add_row(
            e.env, e.pipeline, e.trigger, e.slot, f"[{styles.get(e.status, 'red')}]{e.status}[/]",
            f"{e.start:%Y-%m-%d %H:%M:%S}", duration, e.job_run_id or e.run_id, e.detail, e.log or "",
        )
    return table
