"""What each panel shows, as JSON-ready dicts: one function per panel, each one request.

They read what the commands read — `Registry.page` (`conveyor models`), `AuditLog.page`
(`conveyor audit`'s log, a page at a time), `RunHistory.page` (`conveyor runs`), the
monitoring runs' stored metrics — and shape it for a page. No panel reads raw data.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.core.errors import AdminError, OptionError, StoreUnreachableError
from conveyor.dashboard.paging import PageRequest
from conveyor.serving.errors import BadGateway, InvalidInput, NotFound
from conveyor.stack.tracking import next_page

if TYPE_CHECKING:
    from conveyor.dashboard.access import Viewer
    from conveyor.dashboard.context import DashboardContext
    from conveyor.lifecycle.registry import VersionInfo
    from conveyor.lifecycle.stands import Stand

MOVES = ("train", "promote", "rollback", "copy")  # what moves (or copies) a stage alias; train: the first
LIVE = ("traffic", "rollout-step", "rollout-rollback", "rollout-complete")  # endpoint changes


def check_model(context: DashboardContext, model: str) -> None:
    if model != context.model:
        raise NotFound(f"no model named {model!r} here", hint=f"this dashboard shows {context.model!r}")


def overview(context: DashboardContext) -> dict[str, Any]:
    """The model, its stages and the stand each lives on, every stand (this one first; no
    store read)."""
    here = context.environment or "default"
    stages = [{"stage": s, "stand": context.stands.env_of(s) or here} for s in context.config.stages]
    return {"model": context.model, "environment": here, "stages": stages, "stands": _stand_names(context)}


def _stand_names(context: DashboardContext) -> list[str]:
    """This stand's name, then every other stand a stage lives on, once each."""
    here = context.environment or "default"
    return list(dict.fromkeys([here, *(context.stands.env_of(s) or here for s in context.config.stages)]))


def stand_of(context: DashboardContext, name: str | None) -> Stand:
    """The stand a panel asks for by name (None: this one); 422 for one no stage lives on."""
    here = context.environment or "default"
    if name is None or name == here:
        return context.stands.current
    stage = next((s for s in context.config.stages if context.stands.env_of(s) == name), None)
    if stage is None:
        raise InvalidInput(f"no stage of {context.model!r} lives on a stand {name!r}", field="stand",
                           hint=f"one of {_stand_names(context)}")
    return context.stands.of_stage(stage)


def stages(context: DashboardContext, model: str) -> dict[str, Any]:
    """Which version holds each stage alias on its stand, since when, moved by whom and why
    (the registered model's `conveyor.last_move.<stage>` tag); one read per stand."""
    states: dict[str | None, tuple[dict[str, str], dict[str, str]] | str] = {}
    rows = []
    for stage in context.config.stages:
        env = context.stands.env_of(stage)
        if env not in states:
            try:
                states[env] = context.stands.of_stage(stage).registry.model_state(model)
            except StoreUnreachableError as exc:
                states[env] = exc.message
        state = states[env]
        stand = env or context.environment or "default"
        if isinstance(state, str):
            rows.append({"stage": stage, "stand": stand, "version": None, "error": state})
            continue
        aliases, model_tags = state
        last = _json(model_tags.get(tags.last_move(stage)))
        rows.append({
            "stage": stage, "stand": stand, "version": aliases.get(stage),
            "since": last.get("at"), "by": last.get("who"), "reason": last.get("reason"),
            "previous": _json(model_tags.get(tags.stage_history(stage)), [])[-6:-1],
        })
    return {"model": model, "items": rows}


def versions(context: DashboardContext, model: str, request: PageRequest, stand: str | None = None) -> dict[str, Any]:
    """A page of a stand's versions, newest first: aliases, gate verdict and its checks, key
    metrics (a version copied to another stand shows there with its copied tags)."""
    found = stand_of(context, stand).registry.page(model, request.limit, request.token)
    keys = key_metrics(context)
    return {"model": model, "stand": stand or context.environment or "default",
            "items": [_version(v, keys) for v in found.versions], "next": found.next_token}


def key_metrics(context: DashboardContext) -> list[str]:
    """The gate's metrics, then the champion comparison's."""
    gate = context.config.gate
    names = list(gate.metrics)
    if gate.champion is not None:
        names += [m for m in (gate.champion.metrics or []) if m not in names]
    return names


def gate_checks(version_tags: dict[str, str], reasons: list[str]) -> list[dict[str, Any]]:
    """The gate's checks of a version, each with its metric, threshold and value (the
    ``conveyor.gate.table`` tag); a version gated before that tag existed has only its
    checks' texts: metric, threshold and value are None there."""
    table = _json(version_tags.get(tags.GATE_TABLE), [])
    if isinstance(table, list) and table and all(isinstance(row, dict) for row in table):
        return [{"check": str(row.get("name", "")), "metric": row.get("metric"), "threshold": row.get("threshold"),
                 "value": row.get("value"), "passed": bool(row.get("passed")), "detail": str(row.get("detail", ""))}
                for row in table]
    failed = set(reasons)
    return [{"check": text, "metric": None, "threshold": None, "value": None, "passed": text not in failed,
             "detail": text} for text in _json(version_tags.get(tags.GATE_CHECKS), []) if isinstance(text, str)]


def _version(v: VersionInfo, keys: list[str]) -> dict[str, Any]:
    checks = gate_checks(v.tags, v.reasons)
    return {
        "version": v.version, "aliases": v.aliases, "gate": v.gate, "checks": checks,
        "metrics": {k: v.metrics[k] for k in keys if k in v.metrics}, "run_id": v.run_id,
        "created": v.created, "trigger": v.tags.get(tags.TRIGGER), "copied_from": v.copied_from,
    }


def history(context: DashboardContext, model: str, request: PageRequest, kinds: tuple[str, ...],
            stand: str | None = None) -> dict[str, Any]:
    """A page of a stand's audit log, events of these actions, newest first (who, when, from,
    to, why): only the events on the page are read (`AuditLog.page`)."""
    audit = stand_of(context, stand).audit
    try:
        events, token = audit.page(model, kinds, request.limit, request.token)
    except OptionError as exc:
        raise InvalidInput(exc.message, field="next", hint=exc.hint) from None
    return {"model": model, "stand": stand or context.environment or "default", "items": events, "next": token}


def lineage(context: DashboardContext, model: str, request: PageRequest) -> dict[str, Any]:
    """Drift → retrain → promotions: versions a drift retrain registered, newest first, each
    with the monitoring run that asked for it and the moves that gave it a stage alias (its
    ``conveyor.stage.<stage>`` tags: the version's own record, no audit log read)."""
    client = context.registry.client
    found = client.search_model_versions(
        f"name = '{model}' and tags.`{tags.TRIGGER}` = 'drift'", max_results=request.limit,
        order_by=["version_number DESC"], page_token=request.token,
    )
    items = []
    for mv in found:
        version, version_tags = str(mv.version), dict(mv.tags or {})
        trigger_run = version_tags.get(tags.TRIGGER_RUN_ID)
        run = context.monitoring.get(trigger_run) if trigger_run else None
        moves = [_json(version_tags.get(tags.stage_move(stage))) for stage in context.config.stages]
        items.append({
            "version": version, "gate": version_tags.get(tags.GATE, "unknown"),
            "drift": None if run is None else {"run_id": run.run_id, "at": run.at.isoformat(), "note": run.note},
            "reason": version_tags.get(tags.TRIGGER_REASON),
            "promotions": sorted(({"stage": m.get("stage"), "at": m.get("at"), "who": m.get("who"),
                                   "action": m.get("action")} for m in moves if m.get("action") in MOVES),
                                 key=lambda m: str(m["at"])),
        })
    return {"model": model, "items": items, "next": next_page(found)}


def endpoint(context: DashboardContext, model: str, viewer: Viewer) -> dict[str, Any]:
    """Deployments with weights, shadow and their request, error and latency counts from the
    server's own metrics (the page turns two readings into rates), the canary's state."""
    from conveyor.serving.rollout import Snapshot

    state = context.live.state(model, viewer)
    try:
        snapshot: Snapshot | None = Snapshot(context.live.metrics(), model)
    except (AdminError, BadGateway):
        snapshot = None
    for dep in state.get("deployments", []):
        name = dep["deployment"]
        if snapshot is not None:
            stats = snapshot.since(Snapshot("", model), name)
            dep["requests"], dep["errors"], dep["p95_s"] = stats.requests, stats.errors, stats.p95_s
    state["at"] = time.time()
    state["canary"] = context.canaries.state(model)
    return state


def monitoring(context: DashboardContext, model: str, request: PageRequest) -> dict[str, Any]:
    """A page of monitoring runs, newest first: drift score per feature, performance and
    fairness metrics, the verdict (drift runs are the alerts), the report's link."""
    runs, token = context.monitoring.page(request.limit, request.token)
    items = []
    for run in runs:
        item = run.to_dict()
        item["report"] = f"/ui/models/{model}/monitoring/{run.run_id}/report"
        items.append(item)
    return {"model": model, "items": items, "next": token}


def runs(context: DashboardContext, model: str, pipeline: str | None, request: PageRequest) -> dict[str, Any]:
    """A page of pipeline runs (train, batch, monitor, retrain; the scheduler's and Airflow
    DAG runs'), newest first: status, trigger, duration, the MLflow run (a link where a
    tracking server has a UI), the log."""
    entries, token = context.history.page(pipeline, request.limit, request.token)
    items = []
    for entry in entries:
        item = entry.to_dict()
        item["log_url"] = f"/ui/models/{model}/runs/{entry.run_id}/log" if entry.log else None
        item["mlflow_url"] = _run_link(context, entry.job_run_id or entry.run_id)
        items.append(item)
    return {"model": model, "items": items, "next": token}


def _run_link(context: DashboardContext, run_id: str) -> str | None:
    if context.tracking_ui is None:
        return None
    return f"{context.tracking_ui.rstrip('/')}/#/runs/{run_id}"


def _json(raw: str | None, default: Any = None) -> Any:
    if not raw:
        return {} if default is None else default
    try:
        return json.loads(raw)
    except ValueError:
        return {} if default is None else default
