"""Exceptions with actionable messages and the exit code the CLI maps them to."""

from __future__ import annotations


class ConveyorError(Exception):
    """Base class: a user-facing failure with one clear message."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


class ConfigError(ConveyorError):
    """conveyor.yaml is missing, malformed or invalid."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.field = field
        self.line = line
        where = file or "conveyor.yaml"
        if line is not None:
            where += f":{line}"
        if field:
            where += f" [{field}]"
        super().__init__(f"{where}: {message}", hint=hint)


class DataError(ConveyorError):
    """The dataset is missing, unreadable, or lacks a configured column."""


class EntrypointError(ConveyorError):
    """The user's `module.py:function` entrypoint cannot be imported."""


class TrainingError(ConveyorError):
    """The user's train (or evaluate) function raised."""

    def __init__(self, message: str, *, user_traceback: str, hint: str | None = None) -> None:
        self.user_traceback = user_traceback
        super().__init__(message, hint=hint)


class StoreUnreachableError(ConveyorError):
    """The tracking/registry store or artifact store cannot be reached."""


class GateFailedError(ConveyorError):
    """The candidate failed the quality gate; it is registered but gets no alias."""

    def __init__(self, message: str, *, version: str, reasons: list[str]) -> None:
        self.version = version
        self.reasons = reasons
        super().__init__(message)


class RegistryError(ConveyorError):
    """An unknown model, version or alias in the registry."""


class PromotionError(ConveyorError):
    """A promotion or rollback that the rules forbid."""
