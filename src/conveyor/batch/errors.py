"""Batch scoring failures: each one message, a hint, and the CLI's exit code."""

from __future__ import annotations

from conveyor.errors import ConveyorError, DataError


class ModelRefError(ConveyorError):
    """A model reference that is not of the form ``name@alias``, ``name@latest`` or ``name@vN``."""

    exit_code = 2


class InputError(DataError):
    """The batch input is missing, empty or unreadable."""


class SchemaMismatchError(DataError):
    """The whole input lacks a model column or holds it in an unusable type; nothing was scored."""

    exit_code = 3


class BadRowError(DataError):
    """A row failed validation or scoring under the ``fail`` policy."""

    exit_code = 3

    def __init__(self, message: str, *, row: int, reason: str, hint: str | None = None) -> None:
        self.row = row
        self.reason = reason
        super().__init__(message, hint=hint)


class OutputError(ConveyorError):
    """The output location already holds a committed result, or a resume does not match it."""

    exit_code = 4


class HookError(ConveyorError):
    """A user pipeline hook (preprocess, score, postprocess) raised."""

    def __init__(self, message: str, *, user_traceback: str, hint: str | None = None) -> None:
        self.user_traceback = user_traceback
        super().__init__(message, hint=hint)


class EndpointError(ConveyorError):
    """The scoring endpoint kept failing after retries, or rejected a request."""


class EngineError(ConveyorError):
    """The engine (a worker process, the Spark session) failed."""
