"""``${ENV_VAR}`` interpolation and redaction of the secret values it resolves."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.core.errors import MissingVariable

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MASK = "***"


@dataclass
class Secrets:
    """Values resolved from the environment; everything printed or logged goes through `redact`.

    `keep_unresolved`: a variable that is not set stays a ``${NAME}`` reference (named in
    `unresolved`) instead of an error — for commands that only write files which are resolved
    where they run (`conveyor export`)."""

    values: set[str] = field(default_factory=set)
    keep_unresolved: bool = False
    unresolved: set[str] = field(default_factory=set)

    def interpolate(self, text: str, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                value = env[name]
            elif default is not None:
                return default
            elif self.keep_unresolved:
                self.unresolved.add(name)
                return match.group(0)
            else:
                raise MissingVariable(name)
            if value:
                self.values.add(value)
            return value

        return _REFERENCE.sub(substitute, text)

    def redact(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return redact_uri_password(text)

    def redact_tree(self, data: Any) -> Any:
        """`redact` applied to every string (keys included) of a JSON-like tree."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {self.redact_tree(k): self.redact_tree(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.redact_tree(v) for v in data]
        return data


def redact_uri_password(text: str) -> str:
    """Mask the password of ``scheme://user:password@host`` URIs anywhere in `text`."""
    return re.sub(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)", rf"\1{MASK}\3", text)


def interpolate_tree(data: Any, secrets: Secrets, path: tuple[Any, ...] = ()) -> Any:
    """Resolve references in every string of a parsed YAML tree (keys stay literal)."""
    if isinstance(data, dict):
        return {k: interpolate_tree(v, secrets, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_tree(v, secrets, (*path, i)) for i, v in enumerate(data)]
    if isinstance(data, str):
        try:
            return secrets.interpolate(data)
        except MissingVariable as missing:
            raise MissingVariable(missing.name, path) from None
    return data

