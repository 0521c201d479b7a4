"""Retraining on request: train → gate → first stage, with lineage tags back to the
monitoring run that asked for it; later stages only with ``auto_promote``.

Monitoring never trains: it returns a :class:`RetrainRequest`, and whoever ran it (the CLI,
the scheduler, an Airflow task) hands the request to :func:`retrain`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.core import tags as tag_names
from conveyor.core.errors import ConveyorError, GateFailedError
from conveyor.lifecycle.context import LifecycleContext
from conveyor.lifecycle.progress import Reporter
from conveyor.lifecycle.registration import TrainResult, gate_and_register
from conveyor.lifecycle.training import train


@dataclass(frozen=True)
class RetrainRequest:
    """Monitoring found drift and its config asks for a retrain."""

    model: str
    monitoring_run_id: str
    reason: str
    auto_promote: bool = False

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
    context: LifecycleContext, reporter: Reporter | None = None, tags: dict[str, str] | None = None
) -> TrainResult:
    """`conveyor train`: the train step then the gate step, in this process."""
    trained = train(context, reporter, extra_tags=tags)
    return gate_and_register(context, trained.run_id, reporter, split=trained.split)


def retrain(context: LifecycleContext, request: RetrainRequest, reporter: Reporter | None = None) -> TriggerOutcome:
    """Train on the configured (latest) data through the same gate. Never raises for a
    failed gate or training: the outcome says what happened."""
    try:
        result = train_and_gate(context, reporter, tags=request.lineage)
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
        for stage in context.config.stages[1:]:
            try:
                move = context.promoter.promote(
                    context.config.name, stage, result.version, reason=f"auto_promote: {request.reason}"[:500]
                )
            except ConveyorError as exc:
                outcome.detail += f"; promotion to {stage} refused: {exc.message}"
                break
            outcome.promoted.append(move.stage)
        if outcome.promoted:
            outcome.detail += f"; auto-promoted to {', '.join(outcome.promoted)}"
    return outcome
