"""Stream locations: ``kafka://host:port/topic``, ``redis://host:port/stream``,
``file://events.jsonl``, or a bare name on the stand's broker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from conveyor.core.errors import StreamUrlError

Kind = Literal["kafka", "redis", "file"]
KINDS: tuple[Kind, ...] = ("kafka", "redis", "file")
_FORMS = "kafka://HOST:PORT/TOPIC, redis://HOST:PORT/STREAM or file://PATH"


@dataclass(frozen=True)
class StreamLocation:
    """One topic, stream or file: its broker kind, the broker's address and the name on it."""

    kind: Kind
    address: str  # host:port[,host:port] (Kafka), host:port (Redis), "" (file)
    name: str  # the topic, the stream, the file's path
    db: int = 0  # Redis database

    @property
    def broker(self) -> str:
        return f"{self.kind}://{self.address}"

    def sibling(self, name: str) -> StreamLocation:
        """Another topic or stream on the same broker."""
        return StreamLocation(self.kind, self.address, name, self.db)

    def same_broker(self, other: StreamLocation) -> bool:
        return (self.kind, self.address, self.db) == (other.kind, other.address, other.db)

    def __str__(self) -> str:
        if self.kind == "file":
            return f"file://{self.name}"
        return f"{self.broker}/{self.name}" + (f"?db={self.db}" if self.db else "")


def parse_location(text: str, broker: str | None = None, what: str = "source") -> StreamLocation:
    """A location from its URL, or a bare name on ``broker`` (the stand's)."""
    if "://" not in text:
        if broker is None:
            raise StreamUrlError(
                f"stream {what} {text!r} is a bare name and this stand has no broker",
                hint=f"write {_FORMS}, or set environments.<env>.broker in conveyor.yaml",
            )
        return parse_location(f"{broker.rstrip('/')}/{text}", None, what)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in KINDS:
        raise StreamUrlError(f"stream {what} {text!r}: unknown scheme {scheme + '://'!r}", hint=f"write {_FORMS}")
    if scheme == "file":
        path = text.split("://", 1)[1]
        if not path:
            raise StreamUrlError(f"stream {what} {text!r} names no file", hint="write file://events.jsonl")
        return StreamLocation("file", "", path)
    parts = urlsplit(text)
    name = parts.path.strip("/")
    if not parts.netloc or not name:
        raise StreamUrlError(
            f"stream {what} {text!r} needs a broker address and a {'topic' if scheme == 'kafka' else 'stream'}",
            hint=f"write {scheme}://HOST:PORT/NAME",
        )
    db = 0
    if scheme == "redis":
        try:
            db = int(parse_qs(parts.query).get("db", ["0"])[0])
        except ValueError:
            raise StreamUrlError(f"stream {what} {text!r}: db must be a number", hint="write ?db=0") from None
    return StreamLocation(scheme, parts.netloc, name, db)


def dead_letters_of(source: StreamLocation) -> StreamLocation:
    """Where dead letters go when nothing says: ``<topic>.dead``, ``events.dead.jsonl``."""
    if source.kind == "file":
        path = PurePosixPath(source.name)
        return StreamLocation("file", "", str(path.with_name(f"{path.stem}.dead{path.suffix or '.jsonl'}")))
    return source.sibling(f"{source.name}.dead")


def check_same_broker(source: StreamLocation, other: StreamLocation, what: str) -> None:
    """Outputs and dead letters go to the source's broker: one connection commits both."""
    if not source.same_broker(other):
        raise StreamUrlError(
            f"stream {what} {other} is not on the source's broker {source.broker}",
            hint="a scorer writes to the broker it reads from (its commits follow its writes); "
            "mirror the topic with the broker's own tools to move it elsewhere",
        )
