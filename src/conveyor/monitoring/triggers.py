"""What monitoring does itself on drift: an alert (log line + optional webhook). A retrain is
only requested (:class:`~conveyor.lifecycle.retraining.RetrainRequest`); the caller runs it
and its new version carries lineage tags back to the monitoring run."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from conveyor.lifecycle.retraining import TriggerOutcome

ACTIONS = ("alert", "retrain")
log = logging.getLogger("conveyor.monitoring")


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
