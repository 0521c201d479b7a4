"""A JSON Lines file as a stream, for local work: one event per line in, one per line out.

The position in the source (line and byte) is checkpointed next to the sink
(``<sink>.position``) after the batch's outputs are written and synced, so a scorer killed at
any point resumes where the last synced batch ended: outputs may repeat, none is lost.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import BinaryIO

from conveyor.core.errors import UnknownStreamError
from conveyor.streaming.brokers import Batch, Broker, BrokerSettings, Delivery, Records

_FOLLOW_POLL_S = 0.05


class FileBroker(Broker):
    def __init__(self, settings: BrokerSettings) -> None:
        self.source = Path(settings.source.name)
        if not self.source.is_file():
            raise UnknownStreamError(
                f"stream source file {self.source} does not exist",
                hint="write one JSON object per line into it, or check the path",
            )
        self.follow = settings.follow
        self.sink = Path(settings.sink.name)
        self.dead = Path(settings.dead_letters.name)
        self.checkpoint = self.sink.with_name(self.sink.name + ".position")
        self.line, offset = self._resume()
        self._reader: BinaryIO = self.source.open("rb")
        self._reader.seek(offset)
        self._writers: dict[Path, BinaryIO] = {}

    def _resume(self) -> tuple[int, int]:
        try:
            saved = json.loads(self.checkpoint.read_text())
        except (OSError, ValueError):
            return 0, 0
        if saved.get("source") != str(self.source.resolve()):
            return 0, 0
        return int(saved["line"]), int(saved["byte"])

    def read_batch(self, max_events: int, max_wait_s: float) -> Batch:
        values: list[bytes] = []
        lines: list[str] = []
        deadline = time.monotonic() + max_wait_s
        name = str(self.source)
        while len(values) < max_events:
            start = self._reader.tell()
            line = self._reader.readline()
            if not line or (self.follow and not line.endswith(b"\n")):
                self._reader.seek(start)  # a line being written: read it whole later
                if not self.follow:
                    self.exhausted = True
                    break
                if values or time.monotonic() >= deadline:
                    break
                time.sleep(_FOLLOW_POLL_S)  # a file has no notification to wait on
                continue
            self.line += 1
            if line.strip():
                values.append(line.rstrip(b"\r\n"))
                lines.append(str(self.line))
        return Batch(name, values, lines)

    def deliver(self, delivery: Delivery) -> None:
        self._append(self.sink, Records.of(delivery.outputs).values)
        self._append(self.dead, Records.of(delivery.dead_letters).values)
        # the loop delivers a batch before it reads the next: the reader stands after it
        position = {"source": str(self.source.resolve()), "line": self.line, "byte": self._reader.tell()}
        temp = self.checkpoint.with_name(f".{self.checkpoint.name}.tmp")
        temp.write_text(json.dumps(position))
        os.replace(temp, self.checkpoint)

    def _append(self, path: Path, values: list[bytes]) -> None:
        if not values:
            return
        writer = self._writers.get(path)
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._writers[path] = path.open("ab")
        writer.write(b"\n".join(values) + b"\n")
        writer.flush()
        os.fsync(writer.fileno())

    def drain(self, timeout_s: float) -> bool:
        return True  # every delivery is synced before it returns

    def close(self) -> None:
        self._reader.close()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
