"""The monitoring result as a terminal table (the CLI's non-JSON output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from conveyor.monitoring.drift import sorted_by_severity
from conveyor.monitoring.report import LABELS
from conveyor.monitoring.verdict import DRIFT, INSUFFICIENT, NO_DRIFT

if TYPE_CHECKING:
    from rich.console import Console

    from conveyor.monitoring.monitor import MonitorResult


def _verdict(value: bool | None, yes: str = "drift", no: str = "ok") -> str:
    if value is None:
        return "[dim]no verdict[/]"
    return f"[bold red]{yes}[/]" if value else f"[green]{no}[/]"


_STATUS_STYLE = {DRIFT: "bold red", NO_DRIFT: "bold green", INSUFFICIENT: "bold yellow"}


def print_result(result: MonitorResult, out: Console) -> None:
    """The verdict sentence first, then each signal, the per-column table, notes, triggers."""
    verdict = result.verdict
    out.print(f"[{_STATUS_STYLE[verdict.status]}]{escape(verdict.sentence)}[/]", highlight=False)
    signals = Table(title=f"{result.model} v{result.version}: signals", title_justify="left")
    for column in ("signal", "counts", "verdict", "details"):
        signals.add_column(column, overflow="fold")
    for signal in verdict.signals:
        signals.add_row(signal.name, "yes" if signal.counted else "no (not in monitor.fail_on)",
                        _verdict(signal.moved, "moved"), escape(signal.detail))
    out.print(signals)
    drift = result.drift
    if drift is not None:
        table = Table(title=f"per-column drift (method {drift.method})", title_justify="left")
        for column in ("column", "verdict", "test", "score", "threshold", "details"):
            table.add_column(column, overflow="fold")
        rows = [*sorted_by_severity(drift.features), *drift.outputs, *([drift.target] if drift.target else [])]
        for item in rows:
            name = LABELS.get(item.column, item.column)
            table.add_row(
                f"{name} (target)" if item.role == "target" else name,
                _verdict(item.drifted),
                item.test or "-",
                "-" if item.score is None else f"{item.score:.4g}",
                "-" if item.threshold is None else f"{item.threshold:g}",
                escape("; ".join(item.reasons + item.messages)),
            )
        out.print(table)
    perf = result.performance
    if perf is not None and perf.detector.get("alarm"):
        out.print(f"Page-Hinkley alarm at labelled row {perf.detector.get('at_row')} (reported; "
                  "the performance checks decide)", highlight=False)
    for message in result.messages:
        out.print(f"[yellow]note:[/] {escape(message)}", markup=True, highlight=False)
    for trigger in result.triggers:
        mark = "[green]✓[/]" if trigger.ok else "[red]✗[/]"
        out.print(f"{mark} {trigger.action}: {escape(trigger.detail)}", highlight=False)
    out.print(f"MLflow run {result.run_id}{', report ' + result.report if result.report else ''}",
              highlight=False)
