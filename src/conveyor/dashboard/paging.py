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

    def offset(self) -> int:
        """For lists read whole (the audit log): the token is the offset."""
        if self.token is None:
            return 0
        if not self.token.isdigit():
            raise InvalidInput(f"next={self.token!r} is not a page of this list", field="next",
                               hint="pass the `next` of the previous answer")
        return int(self.token)


def page(items: list[dict[str, object]], request: PageRequest) -> dict[str, object]:
    """One page of a list read whole, with the offset of the next as its token."""
    start = request.offset()
    end = start + request.limit
    return {"items": items[start:end], "next": str(end) if end < len(items) else None}
