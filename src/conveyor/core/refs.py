"""Model references (pure: parsing only; resolution against the registry is in scoring):
``churn@prod`` (stage alias), ``churn@latest``, ``churn@v3`` (version 3), and a bare
``churn``: the holder of the project's last stage (``churn@prod`` with the default stages),
so a bare name never picks a version that has not been promoted (``@latest`` may be one
that failed the gate; scoring with it says so). ``@v3`` rather than ``@3`` keeps versions apart from
alias names, which MLflow forbids from being all digits but not from starting with ``v``; an
alias literally named like ``v3`` is therefore not addressable here, by design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from conveyor.core.errors import ModelRefError

_REF = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?:@(?P<selector>[A-Za-z0-9_-]+))?$")
_VERSION = re.compile(r"^[vV](?P<number>[0-9]+)$")

Kind = Literal["alias", "version", "latest", "last_stage"]


@dataclass(frozen=True)
class ModelRef:
    """What to score with: a registered model name and how to pick its version."""

    name: str
    kind: Kind
    value: str | None = None  # alias name or version number

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _REF.match(text.strip())
        if match is None:
            raise ModelRefError(
                f"{text!r} is not a model reference",
                hint="use NAME (the last stage's holder), NAME@STAGE (churn@prod), NAME@latest, "
                "or NAME@vN (churn@v3)",
            )
        name, selector = match.group("name"), match.group("selector")
        if selector is None:
            return cls(name, "last_stage")
        if selector == "latest":
            return cls(name, "latest")
        version = _VERSION.match(selector)
        if version is not None:
            return cls(name, "version", str(int(version.group("number"))))
        if selector.isdigit():
            raise ModelRefError(
                f"{text!r}: a bare number is ambiguous",
                hint=f"write {name}@v{selector} for version {selector}",
            )
        return cls(name, "alias", selector)

    def __str__(self) -> str:
        if self.kind == "last_stage":
            return self.name
        if self.kind == "latest":
            return f"{self.name}@latest"
        if self.kind == "version":
            return f"{self.name}@v{self.value}"
        return f"{self.name}@{self.value}"
