"""Page parameters of the JSON endpoints: ``limit`` and the previous answer's ``next``."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.serving.errors import InvalidInput

DEFAULT_LIMIT = 25
MAX_LIMIT = 200


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    token: str | None = None  # the previous page's ``next`` (None: the first page)

    @classmethod
    def of(cls, limit: int | None, token: str | None) -> PageRequest:
        """422 for a limit outside 1..MAX_LIMIT."""
        if limit is None:
            return cls(DEFAULT_LIMIT, token or None)
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be within 1..{MAX_LIMIT}, not {limit}", field="limit")
        return cls(limit, token or None)
