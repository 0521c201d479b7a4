"""The manifest: the commit record of a batch run, written last, read by consumers and resume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.core.output import MANIFEST, part_name

__all__ = ["FORMAT_VERSION", "MANIFEST", "Manifest", "PartResult", "part_name"]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PartResult:
    """One committed part: its number, the input rows it covered and where they went."""

    index: int
    first_row: int
    rows_in: int
    rows_out: int
    rejected: int

    @property
    def name(self) -> str:
        return part_name(self.index)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartResult:
        return cls(**{k: int(data[k]) for k in ("index", "first_row", "rows_in", "rows_out", "rejected")})


@dataclass
class Manifest:
    """What a committed output holds. Its presence is what makes the output complete."""

    model: dict[str, str]
    input: dict[str, Any]
    output: str
    engine: str
    policy: str
    batch_size: int
    parts: list[PartResult]
    started_at: str
    committed_at: str
    duration_s: float
    resumed_parts: int = 0
    endpoint: str | None = None
    profiles: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return sum(p.rows_in for p in self.parts)

    @property
    def rows_out(self) -> int:
        return sum(p.rows_out for p in self.parts)

    @property
    def rejected(self) -> int:
        return sum(p.rejected for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "status": "committed",
            "model": self.model,
            "input": self.input,
            "output": self.output,
            "engine": self.engine,
            "endpoint": self.endpoint,
            "policy": self.policy,
            "batch_size": self.batch_size,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rejected": self.rejected,
            "parts": [p.to_dict() for p in self.parts],
            "resumed_parts": self.resumed_parts,
            "started_at": self.started_at,
            "committed_at": self.committed_at,
            "duration_s": self.duration_s,
            "profiles": self.profiles,
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            model=data["model"],
            input=data["input"],
            output=data["output"],
            engine=data["engine"],
            policy=data["policy"],
            batch_size=int(data["batch_size"]),
            parts=[PartResult.from_dict(p) for p in data["parts"]],
            started_at=data["started_at"],
            committed_at=data["committed_at"],
            duration_s=float(data["duration_s"]),
            resumed_parts=int(data.get("resumed_parts", 0)),
            endpoint=data.get("endpoint"),
            profiles=data.get("profiles"),
            format_version=int(data.get("format_version", FORMAT_VERSION)),
            extra=data.get("extra", {}),
        )
