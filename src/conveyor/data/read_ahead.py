"""Reading a Parquet source ahead of its consumer, in a thread.

A command that must connect to its stores before it can use its data (``conveyor monitor``:
importing MLflow and opening its store take seconds) starts reading first: the thread decodes
record batches of every column (Arrow's decoding releases the GIL, so it runs beside the
imports) and holds at most ``depth`` of them; :meth:`ReadAhead.frames` then hands them out
as :meth:`Source.frames` would, the columns asked for taken from each batch. A read error is
raised where the consumer reaches it, as :meth:`Source.frames` raises it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.data.source import Source

_DONE = object()


class ReadAhead:
    """Batches of ``batch_rows`` rows of every column of ``source``, read in a thread."""

    def __init__(self, source: Source, batch_rows: int, depth: int = 2) -> None:
        self.source = source
        self.batch_rows = batch_rows
        self.names = list(source.schema().names)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._taken = False
        self._thread = threading.Thread(target=self._read, name="conveyor-read-ahead", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for table in self.source._tables(self.names, self.batch_rows):
                if not self._put(table):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(exc)
            return
        self._put(_DONE)

    def _put(self, item: Any) -> bool:
        """Queue ``item`` once there is room; False when the reader was closed meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def serves(self, columns: Sequence[str], batch_rows: int) -> bool:
        """Whether :meth:`frames` can give these columns in batches of this size (once)."""
        return not self._taken and batch_rows == self.batch_rows and set(columns) <= set(self.names)

    def frames(self, columns: Sequence[str]) -> Iterator[pd.DataFrame]:
        """``columns`` of every batch read, as frames (what :meth:`Source.frames` yields)."""
        self._taken = True
        empty = True
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                empty = False
                yield item.select(list(columns)).to_pandas()
        finally:
            self.close()
        if empty:
            yield from self.source.frames(columns, self.batch_rows)  # the typed empty frame

    def close(self) -> None:
        """Stop reading (the thread ends at its next batch); what was read is dropped."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
