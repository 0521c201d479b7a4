"""Retraining on request: train → gate → first stage, with lineage tags back to the
monitoring run that asked for it; later stages only with ``auto_promote``.

Where the data comes from is ``monitor.retrain.data``: the configured training source, the
labelled rows of the monitored window (logged with the monitoring run as
``monitoring/window.parquet``), or both appended (``max_rows``: the newest rows only;
``max_age``: only rows whose ``time_column`` lies within it of now). When
the data's fingerprint equals the one the monitored version or the champion was trained on, nothing is
trained or registered (the same data would give the same model) and the outcome says so.

Monitoring never trains: it returns a :class:`RetrainRequest`, and whoever ran it (the CLI,
the scheduler, an Airflow task) hands the request to :func:`retrain`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core import tags as tag_names
from conveyor.core.errors import ConveyorError, GateFailedError
from conveyor.lifecycle.context import LifecycleContext
from conveyor.lifecycle.preflight import TrainingInputs
from conveyor.lifecycle.progress import Reporter
from conveyor.lifecycle.registration import TrainResult, gate_and_register
from conveyor.lifecycle.training import train

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.lifecycle.data import Dataset

WINDOW_ARTIFACT = "monitoring/window.parquet"  # the labelled window rows, on the monitoring run


@dataclass(frozen=True)
class RetrainRequest:
    """Monitoring found drift and its config asks for a retrain."""

    model: str
    monitoring_run_id: str
    reason: str
    auto_promote: bool = False
    data: str = "training"  # monitor.retrain.data: training | window | both
    max_rows: int | None = None  # monitor.retrain.max_rows
    max_age: str | None = None  # monitor.retrain.max_age: rows of time_column within it of now
    time_column: str | None = None
    version: str | None = None  # the monitored version (its data fingerprint is compared)

    @property
    def lineage(self) -> dict[str, str]:
        return {
            tag_names.TRIGGER: "drift",
            tag_names.TRIGGER_RUN_ID: self.monitoring_run_id,
            tag_names.TRIGGER_REASON: self.reason[:4000],
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TriggerOutcome:
    action: str
    ok: bool
    detail: str
    version: str | None = None
    alias: str | None = None
    promoted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_and_gate(
    context: LifecycleContext,
    reporter: Reporter | None = None,
    tags: dict[str, str] | None = None,
    dataset: Dataset | None = None,
    inputs: TrainingInputs | None = None,
) -> TrainResult:
    """`conveyor train`: the train step then the gate step, in this process (``dataset``: the
    data to train on, default the configured ``data.train``; ``inputs``: checked before
    connecting, see :mod:`conveyor.lifecycle.preflight`)."""
    trained = train(context, reporter, extra_tags=tags, dataset=dataset, inputs=inputs)
    return gate_and_register(context, trained.run_id, reporter, split=trained.split)


def retrain(context: LifecycleContext, request: RetrainRequest, reporter: Reporter | None = None) -> TriggerOutcome:
    """Train on the data ``request.data`` names through the same gate. Never raises for a
    failed gate or training: the outcome says what happened (also when the data is the
    monitored version's own and nothing was trained)."""
    try:
        dataset = retrain_dataset(context, request)
        same = _same_data(context, request, dataset.fingerprint["sha256"])
        if same is not None:
            return TriggerOutcome("retrain", False, same)
        result = train_and_gate(context, reporter, tags=request.lineage, dataset=dataset)
    except GateFailedError as failed:
        return TriggerOutcome(
            "retrain", False,
            f"v{failed.version} failed the quality gate: {'; '.join(failed.reasons)}",
            version=failed.version,
        )
    except ConveyorError as exc:
        return TriggerOutcome("retrain", False, f"retraining failed: {exc.message}")
    outcome = TriggerOutcome(
        "retrain", True, f"v{result.version} passed the gate → {result.alias}",
        version=result.version, alias=result.alias,
    )
    if request.auto_promote:
        beyond = context.promoter.promote_beyond(context.config.name, result.version,
                                                 reason=f"auto_promote: {request.reason}")
        if beyond.refused is not None:
            outcome.detail += f"; {beyond.refused}"
        outcome.promoted.extend(beyond.stages)
        if outcome.promoted:
            outcome.detail += f"; auto-promoted to {', '.join(outcome.promoted)}"
    return outcome


def retrain_dataset(context: LifecycleContext, request: RetrainRequest) -> Dataset:
    """The data a retrain trains on (see the module's docstring)."""
    import pandas as pd

    from conveyor.lifecycle.data import frame_dataset, load_dataset

    training = load_dataset(context.config.data, context.loaded.project_dir)
    if request.data == "training" and request.max_rows is None and request.max_age is None:
        return training
    parts = []
    if request.data in ("training", "both"):
        parts.append(training.frame)
    if request.data in ("window", "both"):
        window = _window(context, request)
        parts.append(window[[c for c in training.frame.columns if c in window.columns]])
    frame = pd.concat(parts, ignore_index=True)
    if request.max_age is not None:
        frame = _recent(frame, request.max_age, request.time_column, training.source)
    if request.max_rows is not None:
        frame = frame.tail(request.max_rows)
    source = {"training": training.source, "window": f"monitoring run {request.monitoring_run_id} window",
              "both": f"{training.source} + monitoring run {request.monitoring_run_id} window"}[request.data]
    return frame_dataset(frame, source)


def _recent(frame: pd.DataFrame, max_age: str, column: str | None, source: str) -> pd.DataFrame:
    """The rows whose ``column`` lies within ``max_age`` before now (rows without a value there
    — window rows that lack the column — are kept: the monitored window is recent)."""
    from datetime import UTC, datetime

    import pandas as pd

    from conveyor.core.durations import parse_window

    if column is None or column not in frame.columns:
        raise ConveyorError(
            f"monitor.retrain.max_age reads the timestamp column {column!r}, which {source} does not have",
            hint="set monitor.retrain.time_column to a timestamp column of the training data",
        )
    try:
        stamps = pd.to_datetime(frame[column], utc=True)
    except (ValueError, TypeError) as exc:
        raise ConveyorError(f"column {column!r} of the retrain data holds values that are not timestamps: {exc}",
                            hint="set monitor.retrain.time_column to a timestamp column") from None
    since = pd.Timestamp(datetime.now(UTC) - parse_window(max_age))
    return frame[stamps.isna() | (stamps >= since)]


def _window(context: LifecycleContext, request: RetrainRequest) -> pd.DataFrame:
    import tempfile
    from pathlib import Path

    import pandas as pd

    with tempfile.TemporaryDirectory() as folder:
        try:
            path = context.client.download_artifacts(request.monitoring_run_id, WINDOW_ARTIFACT, folder)
        except Exception as exc:  # noqa: BLE001 - a missing artifact, an unreachable store
            raise ConveyorError(
                f"the monitoring run {request.monitoring_run_id} has no labelled window to train on "
                f"({type(exc).__name__})",
                hint="run `conveyor monitor --data FILE` with a label column, or set monitor.retrain.data: training",
            ) from None
        frame = pd.read_parquet(Path(path))
    target = context.config.target
    if target not in frame.columns or not frame[target].notna().any():
        raise ConveyorError("the monitored window has no labelled rows to train on",
                            hint="monitor data with the label column, or set monitor.retrain.data: training")
    return frame[frame[target].notna()]


def _same_data(context: LifecycleContext, request: RetrainRequest, sha256: str) -> str | None:
    """Why not to train: the data is the one the monitored version, or the champion (the
    gate's champion stage, else the last stage, on its own stand), was trained on."""
    for label, client, version in _compared_versions(context, request):
        run_id = client.get_model_version(request.model, version).run_id
        if run_id and client.get_run(run_id).data.tags.get(tag_names.DATA_SHA256) == sha256:
            return (f"not retrained, no version registered: the data's fingerprint (sha256 {sha256[:12]}…) "
                    f"equals {label}, so it would give the same model; set monitor.retrain.data "
                    "to window or both to train on the fresh labelled rows")
    return None


def _compared_versions(context: LifecycleContext, request: RetrainRequest) -> list[tuple[str, Any, str]]:
    """(label, the client of its stand, version): the monitored version, then the champion."""
    compared: list[tuple[str, Any, str]] = []
    if request.version is not None:
        compared.append((f"v{request.version}'s", context.client, request.version))
    cfg = context.config
    stage = cfg.gate.champion.stage if cfg.gate.champion is not None else cfg.stages[-1]
    try:
        stand = context.promoter.stands.of_stage(stage)
        holder = stand.registry.alias_holder(request.model, stage)
    except ConveyorError:  # no such model there yet, or the stand does not answer: not compared
        return compared
    monitored_here = stand is context.promoter.stands.current and holder == request.version
    if holder is not None and not monitored_here:
        compared.append((f"the champion's (v{holder}, {stage})", stand.client, holder))
    return compared
    if holder is not None and (holder, stand.name) != (request.version, context.environment):
        compared.append((f"the champion's (v{holder}, {stage})", stand.client, holder))
    return compared
