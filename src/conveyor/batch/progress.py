"""Rows-scored progress: a rich bar with rows/s on stderr, or nothing."""

from __future__ import annotations

from typing import Any, Protocol


class RowProgress(Protocol):
    def start(self, total_rows: int | None, description: str) -> None: ...

    def advance(self, rows: int) -> None: ...

    def stop(self) -> None: ...


class SilentProgress:
    def start(self, total_rows: int | None, description: str) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress:
    """A live bar (or a counter when the total is unknown, e.g. CSV) with rows/s."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None

    def start(self, total_rows: int | None, description: str) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.fields[total_text]} rows"),
            TextColumn("[cyan]{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            description, total=total_rows, total_text=f"{total_rows:,}" if total_rows else "?", rate=""
        )

    def advance(self, rows: int) -> None:
        if self._progress is None:
            return
        self._progress.advance(self._task, rows)
        task = self._progress.tasks[0]
        elapsed = task.elapsed or 0.0
        if elapsed > 0:
            self._progress.update(self._task, rate=f"{task.completed / elapsed:,.0f} rows/s")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
