"""The monitoring result as a terminal table (the CLI's non-JSON output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from conveyor.monitoring.drift import sorted_by_severity
from conveyor.monitoring.report import LABELS

if TYPE_CHECKING:
    from rich.console import Console

    from conveyor.monitoring.monitor import MonitorResult


def _verdict(value: bool | None, yes: str = "drift", no: str = "ok") -> str:
    if value is None:
        return "[dim]no verdict[/]"
    return f"[bold red]{yes}[/]" if value else f"[green]{no}[/]"


def print_result(result: MonitorResult, out: Console) -> None:
    drift = result.drift
    if drift is not None:
        table = Table(title=f"{result.model} v{result.version}: drift ({drift.method})", title_justify="left")
        for column in ("column", "verdict", "test", "score", "threshold", "details"):
            table.add_column(column, overflow="fold")
        for item in [*sorted_by_severity(drift.features), *drift.outputs]:
            table.add_row(
                LABELS.get(item.column, item.column),
                _verdict(item.drifted),
                item.test or "-",
                "-" if item.score is None else f"{item.score:.4g}",
                "-" if item.threshold is None else f"{item.threshold:g}",
                "; ".join(item.reasons + item.messages),
            )
        out.print(table)
        share = "-" if drift.share is None else f"{drift.share:.0%}"
        out.print(f"dataset drift: {_verdict(drift.dataset_drift)}  ({share} of features drifted; "
                  f"threshold {drift.share_threshold:.0%})")
    perf = result.performance
    if perf is not None:
        detail = "" if perf.current is None else f"{perf.metric} {perf.current:.4f}"
        if perf.baseline is not None:
            detail += f" vs baseline {perf.baseline:.4f}"
        alarm = perf.detector.get("alarm")
        out.print(f"performance: {_verdict(perf.degraded, 'degraded')}  {detail}"
                  f"{'  (Page-Hinkley alarm)' if alarm else ''}")
    if result.fairness is not None:
        out.print(f"fairness: {_verdict(result.fairness.violated, 'violated')}  "
                  + "; ".join(result.fairness.violations))
    for message in result.messages:
        out.print(f"[yellow]note:[/] {escape(message)}", markup=True, highlight=False)
    for trigger in result.triggers:
        mark = "[green]✓[/]" if trigger.ok else "[red]✗[/]"
        out.print(f"{mark} {trigger.action}: {escape(trigger.detail)}", highlight=False)
    verdict = result.drift_detected
    out.print(f"[bold]{'DRIFT DETECTED' if verdict else 'no drift' if verdict is False else 'no verdict'}[/]"
              f"  (MLflow run {result.run_id}{', report ' + result.report if result.report else ''})")
