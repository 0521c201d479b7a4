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
    shown = webhook_origin(webhook)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # its text can quote the URL: only the status
        return TriggerOutcome("alert", False, f"{line}; webhook {shown} answered {exc.code}")
    except urllib.error.URLError as exc:
        return TriggerOutcome("alert", False, f"{line}; webhook {shown} failed: {exc.reason}")
    except (OSError, ValueError) as exc:
        return TriggerOutcome("alert", False, f"{line}; webhook {shown} failed: {type(exc).__name__}")
    return TriggerOutcome("alert", 200 <= status < 300, f"{line}; webhook {shown} answered {status}")


def webhook_origin(url: str) -> str:
    """How a webhook is named in messages: scheme, host and port only. Its path, query and
    user info are often the credential itself (``https://hooks.example/services/T0/B0/XYZ``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    return f"{parts.scheme}://{host}{port}/…" if host else "(invalid URL)"
