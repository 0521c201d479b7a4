"""Monitoring failures, each with one actionable message (exit code 1 unless stated)."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class MonitoringError(ConveyorError):
    """Base class for monitoring failures."""


class BaselineMissingError(MonitoringError):
    """The model version has no baseline profile and it cannot be recomputed."""


class NoCapturedTrafficError(MonitoringError):
    """`--window` found no captured predictions for the model in that time range."""


class WindowError(MonitoringError):
    """A `--window` value that cannot be parsed (expected forms: 30m, 24h, 7d)."""


class ProfileMismatchError(MonitoringError):
    """Two profiles built with different schemas cannot be merged or compared."""


class MonitorDataError(MonitoringError):
    """The data to monitor cannot be read."""
