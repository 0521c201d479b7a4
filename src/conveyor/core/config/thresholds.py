"""Threshold expressions such as ``">= 0.80"`` used by the quality gate."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PATTERN = re.compile(r"^\s*(>=|<=|>|<|==)\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Condition:
    """A comparison of a metric against a bound, e.g. ``>= 0.8``."""

    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"

    @classmethod
    def parse(cls, text: Any) -> Condition:
        if isinstance(text, Condition):
            return text
        match = _PATTERN.match(str(text)) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"threshold {text!r} must be a quoted comparison like \">= 0.80\" or \"<= 0.1\""
            )
        return cls(op=match.group(1), bound=float(match.group(2)))


Threshold = Annotated[
    Condition, BeforeValidator(Condition.parse), PlainSerializer(str, return_type=str)
]
