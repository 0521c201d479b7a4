"""What happens on drift: an alert (log line + optional webhook) and/or a retrain whose new
version carries lineage tags back to the monitoring run that caused it."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError, GateFailedError

if TYPE_CHECKING:
    from conveyor.lifecycle.progress import Reporter
    from conveyor.project import Project

TRIGGER = "conveyor.trigger"
TRIGGER_RUN_ID = "conveyor.trigger.run_id"
TRIGGER_REASON = "conveyor.trigger.reason"
RETRAIN_VERSION = "conveyor.retrain.version"
ACTIONS = ("alert", "retrain")
log = logging.getLogger("conveyor.monitoring")


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


def alert(summary: dict[str, Any], reason: str, webhook: str | None = None, timeout: float = 10.0) -> TriggerOutcome:
    """Log one warning line; POST the JSON summary to ``webhook`` if set. Never raises."""
    line = f"drift alert: {summary.get('model')} v{summary.get('version')}: {reason}"
    log.warning(line)
    if not webhook:
        return TriggerOutcome("alert", True, line)
    body = json.dumps(summary, default=str).encode()
    request = urllib.request.Request(
        webhook, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return TriggerOutcome("alert", False, f"{line}; webhook {webhook} failed: {exc}")
    return TriggerOutcome("alert", 200 <= status < 300, f"{line}; webhook {webhook} answered {status}")


def retrain(
    project: Project,
    run_id: str,
    reason: str,
    *,
    auto_promote: bool = False,
    reporter: Reporter | None = None,
) -> TriggerOutcome:
    """Train on the configured (latest) data through the same gate; the new version gets the
    first stage alias, and every later stage only with ``auto_promote``."""
    lineage = {TRIGGER: "drift", TRIGGER_RUN_ID: run_id, TRIGGER_REASON: reason[:4000]}
    try:
        result = project.train(reporter=reporter, tags=lineage)
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
    if auto_promote:
        for stage in project.config.stages[1:]:
            try:
                move = project.promote(stage, result.version, reason=f"auto_promote: {reason}"[:500])
            except ConveyorError as exc:
                outcome.detail += f"; promotion to {stage} refused: {exc.message}"
                break
            outcome.promoted.append(move.stage)
        if outcome.promoted:
            outcome.detail += f"; auto-promoted to {', '.join(outcome.promoted)}"
    return outcome
