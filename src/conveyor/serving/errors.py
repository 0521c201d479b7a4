"""Errors a request can meet, each with its HTTP status; bodies never carry stack traces."""

from __future__ import annotations

from typing import Any

from conveyor.core.errors import RefusedRows, RequestError

MAX_REFUSED = 10  # at most this many refused rows are listed in a 422


class ServingError(RequestError):
    """A request failed for a reason the client should see (status, message, details)."""

    def body(self, request_id: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"error_code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update(self.details)
        if request_id:
            out["request_id"] = request_id
        return out

    def headers(self) -> dict[str, str]:
        return {}


class MalformedRequest(ServingError):
    """The body is not valid JSON/CSV or not one of the accepted shapes."""

    status = 400
    code = "BAD_REQUEST"


class InvalidInput(ServingError):
    """The body parsed but does not match the model signature (fields are named)."""

    status = 422
    code = "INVALID_INPUT"


def refused_input(exc: RefusedRows) -> InvalidInput:
    """The 422 for rows the model refuses, naming the field, the row (its position in the
    request) and the reason of each (the first ten)."""
    first = exc.refusals[0]
    more = len(exc.refusals) - 1
    return InvalidInput(
        f"the model refuses row {first.row}: {first.field}: {first.reason}"
        + (f" (and {more} more row(s))" if more else ""),
        hint=exc.hint,
        fields=[{"field": r.field, "row": r.row, "reason": r.reason} for r in exc.refusals[:MAX_REFUSED]],
    )


class PayloadTooLarge(ServingError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ServingError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class NotFound(ServingError):
    status = 404
    code = "NOT_FOUND"


class Unauthorized(ServingError):
    status = 401
    code = "UNAUTHORIZED"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ServingError):
    status = 403
    code = "FORBIDDEN"


class Conflict(ServingError):
    """The request is well formed, but the state refuses it now (a rollback with no previous
    holder, a canary while another runs)."""

    status = 409
    code = "CONFLICT"


class BadGateway(ServingError):
    """The server this one passes an action on to refused it or cannot be reached."""

    status = 502
    code = "BAD_GATEWAY"


class Overloaded(ServingError):
    """Past a bounded queue: answer now with Retry-After instead of growing memory."""

    status = 429
    code = "OVERLOADED"

    def __init__(self, message: str, *, retry_after: int = 1, status: int = 429) -> None:
        self.retry_after = retry_after
        self.status = status
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class NotReady(Overloaded):
    """The deployment has no model loaded yet (starting, or its stage has no version)."""

    code = "NOT_READY"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, retry_after=retry_after, status=503)


class NotPublished(NotReady):
    """The version is not in the serving feed yet: the worker waits for the registry follower
    (a deployment added by a traffic change the follower has not polled yet); not a failure."""


class ModelFailed(ServingError):
    """The model raised on this input; the server keeps serving."""

    status = 500
    code = "MODEL_ERROR"
