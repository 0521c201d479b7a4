"""Reading a request: its id and its body, bounded by the endpoint's limit."""

from __future__ import annotations

import itertools
import uuid

from starlette.requests import Request

from conveyor.serving.errors import MalformedRequest, PayloadTooLarge

REQUEST_ID_HEADER = "x-request-id"
_ID_PREFIX = uuid.uuid4().hex[:16]  # random per process: ids stay unique across workers and restarts
_ID_COUNTER = itertools.count(1)


def request_id(request: Request) -> str:
    """The client's X-Request-ID if it is a sane one, else a new id."""
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and len(given) <= 128 and given.isprintable():
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"  # 32 hex digits, no system call per request


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; 413 past `limit` bytes, checked before reading when it is declared."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"the body has {size} bytes; the limit is {limit}")
        return await request.body()
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
