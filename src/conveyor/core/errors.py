"""Every exception conveyor raises, and the one table of exit codes.

Each error carries one clear ``message``, an optional ``hint`` (what to do about it) and the
``exit_code`` the command line exits with. The tree (exit code in brackets where it is not 1)::

    ConveyorError
    ├── UsageError [2]              a config or usage error: fix the file or the command
    │   ├── ConfigError             conveyor.yaml missing, malformed or invalid (file:line [field])
    │   ├── MissingVariable         a ${VAR} in conveyor.yaml names an unset variable
    │   ├── ModelRefError           not name@alias, name@latest or name@vN
    │   ├── WindowError             a --window (or monitor.window) that is not 30m, 24h, 7d, 2w
    │   ├── OptionError             an option value that does not parse (steps, durations, weights)
    │   ├── ExportError             an export that cannot be written: nothing scheduled, a setting
    │   │                           the target's schema rejects (SparkApplication CRD, Kubernetes)
    │   └── StreamUrlError          a stream source/sink that is not kafka://, redis:// or file://
    ├── DataError                   a dataset is missing, unreadable or lacks a column
    │   ├── SourceError             a file, folder, glob or URL cannot be listed or read
    │   │   ├── SourceNotFoundError   nothing is there
    │   │   │   └── UnknownStreamError  the Kafka topic or Redis stream to consume does not exist
    │   │   ├── UncommittedOutputError  a batch output whose commit has not finished
    │   │   └── OutputInSourceError   a folder or glob that takes in an earlier batch output
    │   ├── InputError              the batch input is missing, empty or unreadable
    │   ├── UnscorableInputError [4]  the input cannot be scored; nothing was committed
    │   │   ├── SchemaMismatchError   the whole input lacks a model column or has it unusable
    │   │   └── BadRowError           a row failed under `batch.on_bad_rows: fail`
    │   └── RowError                the fault is in these rows: batch scoring sets them aside
    │       ├── RefusedRows         rows the fitted model refuses (missing value without an
    │       │                       imputer, unknown category, not a number, infinite), by row
    │       └── EndpointRejected    the scoring endpoint answered 4xx to these rows
    ├── OutputError [5]             the output holds a committed result, or does not match --resume
    ├── UnavailableError [9]        something the command needs is taken or cannot be reached
    │   ├── StoreUnreachableError   the tracking, registry or artifact store cannot be reached
    │   ├── MoveLockTimeout         another move of the model held its lock past the timeout
    │   ├── PortInUseError          `conveyor serve`: the address is already in use
    │   ├── BrokerUnreachableError  `conveyor stream`: the Kafka or Redis broker does not answer
    │   └── LearnerBusyError    `conveyor learn`: another learner holds the model's lease
    ├── RegistryError [8]           an unknown model or version
    │   └── NoStageHolder           no version holds the stage named (`churn@prod`, bare `churn`)
    ├── PromotionError              a promotion or rollback the rules forbid
    ├── StandCopyError              copying a version to another stand failed (nothing of it
    │                               visible there; promote again to retry)
    ├── LeaseHeld                   a lease another live process holds (stack/leases.py)
    ├── SchedulerBusyError          another scheduler runs the project on this stand
    ├── EntrypointError             a `module.py:function` entrypoint cannot be imported
    │   └── LearnerError            an online learner that does not implement the contract
    ├── TrainingError               the user's train or evaluate function raised
    ├── GateFailedError             the candidate failed the quality gate (registered, no alias)
    ├── HookError                   a user batch hook (preprocess, score, postprocess) raised
    ├── EngineError                 an engine (worker process, Spark session) failed
    │   └── TaskError               an error raised in a distributed task, carried to the driver
    ├── EndpointError               the scoring endpoint kept failing after retries
    ├── PlanUnsupported             a fitted model has a part an inference plan cannot replay
    ├── ReleaseError                a release step failed (the project's tests, a pack, an upload);
    │                               nothing was published
    ├── PackError                   an environment pack cannot be built, found or used
    │   ├── PackResolutionError     the version's requirements cannot be resolved or installed
    │   ├── PackVerificationError   the built pack failed its import check; nothing was stored
    │   ├── PackNotFoundError       no pack object at the URI given (or the version has none)
    │   ├── PackHashMismatch        the pack's bytes do not match its recorded SHA-256
    │   └── PackInterpreterMissing  the base Python a pack was built on is not on this machine
    ├── MonitoringError             a monitoring run cannot go on
    │   ├── BaselineMissingError    no baseline profile, and it cannot be recomputed
    │   ├── NoCapturedTrafficError  --window found no captured predictions
    │   ├── ProfileMismatchError    two profiles of different schemas
    │   └── MonitorDataError        the data to monitor cannot be read
    ├── AdminError                  a server's admin API refused or could not be reached
    ├── RolloutError                a canary rollout cannot start or go on
    ├── NoRoute                     no deployment with a positive weight is ready
    ├── PublishedLoadError          `conveyor serve`'s registry follower could not load a version
                                    (its error, as the workers report it)
    └── RequestError                a request to the endpoint failed: HTTP status and error code
                                    (MalformedRequest, InvalidInput, ... in conveyor.serving.errors)

Exit codes that are outcomes rather than errors (drift found, a rollout rolled back) are in
:class:`ExitCode` too: every code means one thing, listed in :data:`EXIT_CODES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, unique
from types import MappingProxyType
from typing import ClassVar


@unique
class ExitCode(IntEnum):
    """What a conveyor command's exit status means; one meaning per code."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DRIFT = 3
    BAD_INPUT = 4
    OUTPUT_CONFLICT = 5
    ROLLED_BACK = 6
    INSUFFICIENT_DATA = 7
    NOT_FOUND = 8
    UNAVAILABLE = 9
    INTERRUPTED = 130
    TERMINATED = 143


EXIT_CODES: Mapping[ExitCode, str] = MappingProxyType({
    ExitCode.OK: "done",
    ExitCode.FAILED: "the operation failed, said in one line (gate failed, data missing, user code "
    "raised, promotion refused, ...)",
    ExitCode.USAGE: "a config or usage error (`conveyor.yaml:LINE [field.path]: what is wrong`, "
    "a bad option or model reference)",
    ExitCode.DRIFT: "drift detected (`monitor --fail-on-drift`)",
    ExitCode.BAD_INPUT: "the input data cannot be scored: a schema mismatch, or a bad row under "
    "`batch.on_bad_rows: fail`; nothing was committed",
    ExitCode.OUTPUT_CONFLICT: "the output already holds a committed result, or does not match "
    "`--resume`",
    ExitCode.ROLLED_BACK: "a rollout rolled back: the candidate did worse than the champion",
    ExitCode.INSUFFICIENT_DATA: "no monitoring verdict (`monitor --fail-on-drift`): the window is "
    "empty or too small, or no signal of `monitor.fail_on` could be judged",
    ExitCode.NOT_FOUND: "the registry has no such model or version, or no version holds the stage "
    "named (`churn@prod`, a bare `churn`)",
    ExitCode.UNAVAILABLE: "something the command needs is taken or cannot be reached: the serve "
    "or metrics address is in use, a store or the stream broker is unreachable, another move held the "
    "model's lock too long, another learner holds the model's lease (`conveyor learn`: one learner "
    "per model)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.TERMINATED: "terminated by SIGTERM (a training run it owned is marked KILLED first)",
})


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code for an exception that ends a command."""
    if isinstance(exc, ConveyorError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.FAILED


class ConveyorError(Exception):
    """Base class: a failure with one clear message, an optional hint and its exit code."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


# -- usage ------------------------------------------------------------------------------------


class UsageError(ConveyorError):
    """The config or the command line asks for something that cannot be: fix it and rerun."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """conveyor.yaml is missing, malformed or invalid."""

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


class MissingVariable(UsageError):
    """A ``${VAR}`` reference names an environment variable that is not set and has no default;
    ``path`` is where in the parsed YAML tree it was found."""

    def __init__(self, name: str, path: tuple[object, ...] = ()) -> None:
        self.name = name
        self.path = path
        super().__init__(
            f"environment variable {name} is not set",
            hint=f"export {name}=... or give a default: ${{{name}:-value}}",
        )


class ModelRefError(UsageError):
    """A model reference that is not of the form ``name@alias``, ``name@latest`` or ``name@vN``."""


class WindowError(UsageError):
    """A `--window` (or ``monitor.window``) value that cannot be parsed (30m, 24h, 7d, 2w)."""


class OptionError(UsageError):
    """A command-line option whose value does not parse or a combination that cannot be:
    rollout steps or durations, traffic weights (the same values sent to a server's admin API
    are a 422 there), ``--force`` without ``--reason``."""


class ExportError(UsageError):
    """`conveyor export` cannot write what the config asks for: no pipeline has a schedule
    (Airflow would never run the DAG), or a setting that the target's schema rejects (the
    SparkApplication CRD, a Kubernetes object); ``field`` names the setting. Nothing is written."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        self.field = field
        super().__init__(message if field is None else f"[{field}] {message}", hint=hint)


class StreamUrlError(UsageError):
    """A stream source, sink, dead-letter or feedback location that cannot be used: a scheme
    other than kafka://, redis:// and file://, no topic or stream named, or a bare name and
    no broker to find it on."""


# -- data -------------------------------------------------------------------------------------


class DataError(ConveyorError):
    """The dataset is missing, unreadable, or lacks a configured column."""


class SourceError(DataError):
    """A data source (file, folder, glob or URL) cannot be listed or read, or holds no data."""


class SourceNotFoundError(SourceError):
    """A data source that does not exist."""


class UnknownStreamError(SourceNotFoundError):
    """The Kafka topic or Redis stream a stream scorer consumes does not exist on its broker."""


class UncommittedOutputError(SourceError):
    """A batch output folder with no manifest yet: a run or its commit in progress or killed;
    none of its parts is read."""


class OutputInSourceError(SourceError):
    """A folder or glob whose files include the parts of a conveyor batch output (read it as an
    output by opening its folder, or leave it out of the source)."""


class InputError(DataError):
    """The batch input is missing, empty or unreadable."""


class UnscorableInputError(DataError):
    """The input data cannot be scored as it is; nothing was committed."""

    exit_code = ExitCode.BAD_INPUT


class SchemaMismatchError(UnscorableInputError):
    """The whole input lacks a model column or holds it in an unusable type; nothing was scored."""


class BadRowError(UnscorableInputError):
    """A row failed validation or scoring under the ``fail`` policy."""

    def __init__(self, message: str, *, row: int, reason: str, hint: str | None = None) -> None:
        self.row = row
        self.reason = reason
        super().__init__(message, hint=hint)


class RowError(DataError):
    """Something in the rows being scored, not the model or the system, is wrong: batch scoring
    narrows it down to the rows at fault and sets them aside (or fails on them)."""


@dataclass(frozen=True)
class Refusal:
    """Why the fitted model refuses one row: the input ``field`` at fault and the ``reason``."""

    row: int  # the row's position in what was scored
    field: str
    reason: str

    def line(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


class RefusedRows(RowError, ValueError):
    """Rows the fitted model refuses, as its estimator would (a missing value no step
    imputes, an unknown category under ``handle_unknown='error'``, text in a numeric column,
    an infinite or too large number). ``refusals`` holds one per refused row, in row order;
    also a ``ValueError``, as scikit-learn raises in the same place."""

    MAX_LISTED: ClassVar[int] = 3

    def __init__(self, refusals: Sequence[Refusal], *, hint: str | None = None) -> None:
        self.refusals = tuple(refusals)
        listed = "; ".join(r.line() for r in self.refusals[: self.MAX_LISTED])
        more = " (and more rows)" if len(self.refusals) > self.MAX_LISTED else ""
        # the same words for the same first rows, however many rows were scored at once
        super().__init__(f"the model refuses {listed}{more}", hint=hint)

    @property
    def rows(self) -> list[int]:
        return [r.row for r in self.refusals]


class EndpointRejected(RowError):
    """The scoring endpoint answered 4xx: something in these rows, not the endpoint, is wrong."""


# -- output -----------------------------------------------------------------------------------


class OutputError(ConveyorError):
    """The output location already holds a committed result, or a resume does not match it."""

    exit_code = ExitCode.OUTPUT_CONFLICT


# -- stores, registry, promotion ----------------------------------------------------------------


class UnavailableError(ConveyorError):
    """Something the command needs is taken or cannot be reached; retry once it is free."""

    exit_code = ExitCode.UNAVAILABLE


class StoreUnreachableError(UnavailableError):
    """The tracking/registry store or artifact store cannot be reached."""


class MoveLockTimeout(UnavailableError):
    """Another process kept the lock that serialises a model's moves (promote, rollback,
    traffic) past the timeout; nothing was changed."""


class PortInUseError(UnavailableError):
    """`conveyor serve` cannot listen: another process holds the address and port."""


class BrokerUnreachableError(UnavailableError):
    """`conveyor stream` cannot reach its Kafka or Redis broker at start (while running, it
    reconnects with backoff instead)."""


class LearnerBusyError(UnavailableError):
    """`conveyor learn`: another learner process holds the model's lease (one learner per
    model: a second one would fork its state); it names the holder."""


class RegistryError(ConveyorError):
    """An unknown model or version in the registry."""

    exit_code = ExitCode.NOT_FOUND


class NoStageHolder(RegistryError):
    """No version holds the stage a reference names (``churn@prod``, or a bare ``churn``
    meaning its last stage)."""


class PromotionError(ConveyorError):
    """A promotion or rollback that the rules forbid."""


class StandCopyError(ConveyorError):
    """Copying a version into another stand's registry and artifact store failed; what was
    written there is removed (or left marked incomplete for the next attempt to clean up)."""


# -- the user's code, training and the gate -------------------------------------------------------


class LeaseHeld(ConveyorError):
    """A lease (:mod:`conveyor.stack.leases`) is held by another process that may still be
    working under it; ``holder`` says who. The scheduler turns it into SchedulerBusyError, or
    lets a pipeline's slot wait."""

    def __init__(self, name: str, holder: object, description: str) -> None:
        self.name = name
        self.holder = holder
        self.description = description
        super().__init__(f"{name}: held by {description}")


class SchedulerBusyError(ConveyorError):
    """Another `conveyor scheduler` holds the project's lease on this stand (or took it over
    from this one): at most one runs the project's pipelines."""


class EntrypointError(ConveyorError):
    """The user's `module.py:function` entrypoint cannot be imported."""


class LearnerError(EntrypointError):
    """An online learner that cannot be used: a `online.learner` entrypoint whose result does
    not implement the learner contract (learn, predict, predict_proba, to_bytes), an optional
    package it needs (River) missing, a checkpoint state that is not a learner."""


class TrainingError(ConveyorError):
    """The user's train (or evaluate) function raised."""

    def __init__(self, message: str, *, user_traceback: str, hint: str | None = None) -> None:
        self.user_traceback = user_traceback
        super().__init__(message, hint=hint)


class GateFailedError(ConveyorError):
    """The candidate failed the quality gate; it is registered but gets no alias."""

    def __init__(self, message: str, *, version: str, reasons: list[str]) -> None:
        self.version = version
        self.reasons = reasons
        super().__init__(message)


class HookError(ConveyorError):
    """A user pipeline hook (preprocess, score, postprocess) raised."""

    def __init__(self, message: str, *, user_traceback: str, hint: str | None = None) -> None:
        self.user_traceback = user_traceback
        super().__init__(message, hint=hint)


# -- scoring engines --------------------------------------------------------------------------


class EngineError(ConveyorError):
    """The engine (a worker process, the Spark session) failed."""


class TaskError(EngineError):
    """An error raised in a distributed task (a Spark executor), carried back to the driver by
    the name of its type and its text: any error, whatever its constructor, crosses this way."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind

    @classmethod
    def of(cls, exc: BaseException) -> TaskError:
        return exc if isinstance(exc, TaskError) else cls(type(exc).__name__, str(exc))

    def __reduce__(self) -> tuple[type[TaskError], tuple[str, str]]:
        return TaskError, (self.kind, self.message)


class EndpointError(ConveyorError):
    """The scoring endpoint kept failing after retries, or its URL is not usable."""


class PlanUnsupported(ConveyorError):
    """The estimator has a part an inference plan cannot replay exactly (the model then scores
    with scikit-learn); the message says which part."""


class ReleaseError(ConveyorError):
    """`conveyor release` stopped at a step (the project's tests failed, a pack could not be
    built or stored, a file could not be uploaded); nothing was published."""


# -- environment packs ------------------------------------------------------------------------


class PackError(ConveyorError):
    """An environment pack cannot be built, found or used."""


class PackResolutionError(PackError):
    """The version's pinned requirements (with conveyor and the project's code) cannot be
    resolved or installed for the pack's Python and platform; nothing was stored or tagged."""


class PackVerificationError(PackError):
    """The built pack, unpacked into another folder, failed to import conveyor and the
    model's flavor; nothing was stored or tagged."""


class PackNotFoundError(PackError):
    """No complete pack at the URI given (object or its record missing)."""


class PackHashMismatch(PackError):
    """The downloaded pack's SHA-256 differs from the one recorded: it is refused, never run."""


class PackInterpreterMissing(PackError):
    """The base Python interpreter the pack's environment runs on is not on this machine."""


# -- monitoring -------------------------------------------------------------------------------


class MonitoringError(ConveyorError):
    """Base class for monitoring failures."""


class BaselineMissingError(MonitoringError):
    """The model version has no baseline profile and it cannot be recomputed."""


class NoCapturedTrafficError(MonitoringError):
    """`--window` found no captured predictions for the model in that time range."""


class ProfileMismatchError(MonitoringError):
    """Two profiles built with different schemas cannot be merged or compared."""


class MonitorDataError(MonitoringError):
    """The data to monitor cannot be read."""


# -- serving ----------------------------------------------------------------------------------


class AdminError(ConveyorError):
    """A running server's admin API refused the call or could not be reached."""


class RolloutError(ConveyorError):
    """A canary rollout cannot start or go on (bad steps, unknown deployment, a candidate
    that does not load)."""


class NoRoute(ConveyorError):
    """No deployment with a positive weight is ready to take traffic."""


class PublishedLoadError(ConveyorError):
    """The registry follower of `conveyor serve` could not load a version: its error, as a
    worker reports it for the deployment (serving/feed.py)."""


class RequestError(ConveyorError):
    """A request to the endpoint failed for a reason the client should see: the HTTP ``status``,
    a stable error ``code`` and ``details`` for the body. The concrete errors (MalformedRequest,
    InvalidInput, Overloaded, ...) are in :mod:`conveyor.serving.errors`."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None, **details: object) -> None:
        self.details = details
        super().__init__(message, hint=hint)
