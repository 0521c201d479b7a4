"""The ASGI app: prediction endpoints, admin endpoints and operations endpoints.

The prediction paths (`/models/{name}/invocations`, `/invocations`, `/v2/models/{name}/infer`)
are reached through :class:`~conveyor.serving.hotpath.HotPath`, straight from the server
(no FastAPI middleware, no dependency injection); FastAPI serves everything else and the
OpenAPI docs at `/docs`, where the prediction routes are documented too.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import math
import os
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conveyor.serving import protocols
from conveyor.serving.auth import Authenticator, Credential
from conveyor.serving.capture import CaptureWriter, write_feedback
from conveyor.serving.deployments import Deployment, Endpoint
from conveyor.serving.errors import (
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    ServingError,
)
from conveyor.serving.hotpath import HotPath
from conveyor.serving.metrics import CONTENT_TYPE, Metrics
from conveyor.serving.poller import Poller
from conveyor.serving.traffic import TrafficState, TrafficStore, check_weights, traffic_event

if TYPE_CHECKING:
    from conveyor.app import Project
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.serving.signature import InputSchema

log = logging.getLogger("conveyor.serving")

JSON = "application/json"
DEPLOYMENT_HEADER = "x-conveyor-deployment"
VERSION_HEADER = "x-conveyor-version"
REQUEST_ID_HEADER = "x-request-id"


@dataclass
class Service:
    """What the app serves: endpoints by model name, plus the shared machinery."""

    endpoints: dict[str, Endpoint]
    pollers: dict[str, Poller]
    captures: dict[str, CaptureWriter]
    traffic: dict[str, TrafficStore]
    auth: Authenticator
    metrics: Metrics
    artifact_store: str
    environment: str | None = None
    audit: AuditLog | None = None  # traffic changes are audited like stage moves
    started: float = field(default_factory=time.time)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def endpoint(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise NotFound(f"no model named {name!r} is served here", hint=f"models: {sorted(self.endpoints)}")
        return endpoint

    @property
    def ready(self) -> bool:
        return all(e.ready for e in self.endpoints.values())


def build_service(
    project: Project,
    *,
    seed: int | None = None,
    seed_traffic: bool = True,
    extra_credentials: list[Credential] | None = None,
    poll_s: float | None = None,
) -> Service:
    """Wire the project's serve config to its registry and artifact store.

    `seed_traffic`: write the config's weights to the shared traffic state (see
    `seed_weights`); `conveyor serve` does it once in the parent, not in every worker.
    """
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.serving.model import load_version
    from conveyor.stack.artifacts import ArtifactStore

    spec = project.config.serve
    metrics = Metrics()
    client = project.client
    store = project.stack.artifact_store
    fallback = project.config.features.inputs
    name = project.name
    endpoint = Endpoint(name, spec, list(project.config.stages), metrics, seed=seed)
    traffic = TrafficStore(store, name)
    if seed_traffic:
        seed_weights(project, endpoint, traffic)
    capture = CaptureWriter(
        store, name, sample=spec.capture.sample, flush_s=spec.capture.flush_s,
        max_rows=spec.capture.max_rows,
        on_written=metrics.captured.labels(name).inc, on_dropped=metrics.capture_dropped.labels(name).inc,
    )
    poller = Poller(
        endpoint,
        lambda model: project.registry.model_aliases(model),
        lambda model, version: load_version(client, model, version, fallback),
        traffic,
        poll_s or spec.poll_s,
    )
    return Service(
        endpoints={name: endpoint},
        pollers={name: poller},
        captures={name: capture},
        traffic={name: traffic},
        auth=Authenticator.from_config(spec.auth, extra_credentials),
        metrics=metrics,
        artifact_store=store,
        environment=project.loaded.env_name,
        audit=AuditLog(ArtifactStore(store)),
    )


def seed_weights(project: Project, endpoint: Endpoint, traffic: TrafficStore) -> TrafficState | None:
    """The config's weights at start, unless the live weights descend from the same config
    (`TrafficStore.seed`). None: the registry is down and the live weights are kept."""
    try:
        aliases = project.registry.model_aliases(endpoint.name)
    except Exception as exc:  # noqa: BLE001 - the poller retries; serve what it can
        log.error("registry unreachable at start: %s", exc)
        if not endpoint.spec.traffic and traffic.read() is not None:
            return None  # the default weights depend on the aliases: keep the live ones
        aliases = {}
    return traffic.seed(endpoint.initial_weights(aliases))


STARTUP_WAIT_S = 120.0


async def _first_load(service: Service, timeout_s: float) -> None:
    """Wait until every poller has polled once and no deployment is still loading (loaded or
    failed), so that with several workers on one socket no request reaches a worker that has
    nothing loaded yet. Past the timeout the worker serves anyway (503 until loaded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        polled = all(p.polls or p.failures for p in service.pollers.values())
        if polled and not any(e.loading for e in service.endpoints.values()):
            return
        await asyncio.sleep(0.05)
    log.warning("models still loading after %.0fs: serving, /readyz reports what is missing", timeout_s)


def create_app(service: Service) -> HotPath:
    """The ASGI app for a built service (see `build_service`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        for name, capture in service.captures.items():
            if capture.sample > 0 or service.endpoints[name].spec.shadow is not None:
                capture.start()
        for poller in service.pollers.values():
            poller.start()
        await _first_load(service, STARTUP_WAIT_S)  # until then this worker accepts no connection
        # Everything loaded so far (libraries, models) lives for the whole process: keep it
        # out of the collector's full passes, which otherwise stall requests for tens of ms.
        gc.freeze()
        log.info("serving %s (pid %d)", sorted(service.endpoints), os.getpid())
        try:
            yield
        finally:
            for poller in service.pollers.values():
                poller.stop()
            if service._tasks:  # let mirrored shadow requests finish briefly
                await asyncio.wait(list(service._tasks), timeout=5)
            for endpoint in service.endpoints.values():
                for dep in endpoint.deployments.values():
                    await dep.batcher.stop()
            for capture in service.captures.values():
                await run_in_threadpool(capture.stop)
            log.info("stopped (pid %d)", os.getpid())

    mlflow_handler, v2_handler = _predict_handler(service, "mlflow"), _predict_handler(service, "v2")
    hot = [
        ("/models/{name}/invocations", mlflow_handler),
        # MLflow's own clients post to /invocations: the project's model answers there
        ("/invocations", mlflow_handler),
        ("/v2/models/{name}/infer", v2_handler),
        ("/v2/models/{name}/versions/{version}/infer", v2_handler),
    ]
    hot_routes = [Route(path, handler, methods=["POST"]) for path, handler in hot]
    app = FastAPI(
        title="conveyor",
        summary="Model endpoints: MLflow scoring protocol and Open Inference Protocol v2.",
        lifespan=lifespan,
        routes=hot_routes,
    )
    app.state.service = service

    @app.exception_handler(ServingError)
    async def _serving_error(request: Request, exc: ServingError) -> Response:
        return _error(exc, _request_id(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        rid = _request_id(request)
        log.error("unhandled error", exc_info=exc, extra={"request_id": rid, "path": request.url.path})
        return _json({"error_code": "INTERNAL_ERROR", "message": "internal error", "request_id": rid}, 500)

    _operations(app, service)
    _model_routes(app, service)
    _admin_routes(app, service)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return HotPath(app, hot)  # the FastAPI app keeps the routes too: docs, and any other method


# --- hot path ----------------------------------------------------------------------------


def _predict_handler(service: Service, protocol: str):  # type: ignore[no-untyped-def]
    metrics = service.metrics
    auth = service.auth
    mirror_tasks = service._tasks
    default_model = next(iter(service.endpoints))

    async def handler(request: Request) -> Response:
        started = time.perf_counter()
        headers = request.headers
        rid = _request_id(request)
        name = request.path_params.get("name") or default_model
        dep_name = "-"
        endpoint: Endpoint | None = None
        try:
            endpoint = service.endpoint(name)
            if not auth.predict_open:
                auth.check(headers.get("authorization"), "predict")
            spec = endpoint.spec
            body = await _read_body(request, spec.limits.max_body_bytes)
            pinned = request.path_params.get("version")
            if pinned is not None:
                dep = endpoint.serving_version(str(pinned))
            else:
                dep = endpoint.route(headers.get(spec.sticky_header), headers.get(DEPLOYMENT_HEADER))
            dep_name = dep.name
            model = dep.model
            assert model is not None  # route() only returns loaded deployments
            client_id = None
            content_type = headers.get("content-type", "")
            try:
                if protocol == "v2":
                    columns, client_id = protocols.parse_v2(body, model.schema)
                else:
                    columns = protocols.parse_mlflow(body, content_type, model.schema)
            except RecursionError:
                raise MalformedRequest("the body nests lists too deeply") from None
            rows = model.schema.validate(columns)
            _check_numbers(model.schema, columns, text="csv" in content_type and protocol == "mlflow")
            if rows > spec.limits.max_rows:
                raise PayloadTooLarge(f"{rows} rows in one request; the limit is {spec.limits.max_rows}")
            shadow = endpoint.shadow_for(dep)
            result = await dep.batcher.submit(columns, rows)
            version = result.model.version
            latency = time.perf_counter() - started
            if protocol == "v2":
                content = protocols.v2_response(name, result.labels, result.scores, dep_name, version, rid, client_id)
            else:
                content = protocols.mlflow_response(result.labels, dep_name, version, rid, result.scores)
            capture = service.captures[name]
            if shadow is not None or capture.wanted():
                capture.offer(rid, dep_name, version, columns, result.labels, result.scores, latency * 1000)
            if shadow is not None:
                task = asyncio.get_running_loop().create_task(
                    _mirror(service, endpoint, shadow, columns, rows, rid)
                )
                mirror_tasks.add(task)
                task.add_done_callback(mirror_tasks.discard)
            metrics.request(name, dep_name, 200, latency)
            return Response(
                content, 200, media_type=JSON,
                headers={DEPLOYMENT_HEADER: dep_name, VERSION_HEADER: version, REQUEST_ID_HEADER: rid},
            )
        except ServingError as exc:
            metrics.request(name if endpoint else "-", dep_name, exc.status,
                            time.perf_counter() - started if exc.status >= 500 else None)
            return _error(exc, rid, dep_name)
        except Exception as exc:  # never a stack trace to the client
            log.error("request failed", exc_info=exc, extra={"request_id": rid, "model": name})
            metrics.request(name if endpoint else "-", dep_name, 500, time.perf_counter() - started)
            return _json({"error_code": "INTERNAL_ERROR", "message": "internal error", "request_id": rid}, 500)

    return handler


_INT64 = (-(2**63), 2**63 - 1)


def _check_numbers(schema: InputSchema, columns: dict[str, list[Any]], *, text: bool) -> None:
    """Numbers the signature check lets through but the model cannot take: integers past
    int64 in integer columns and, from CSV (JSON has none), infinities like `inf` or
    `1e999`. A 422 naming the column, instead of a model error."""
    low, high = _INT64
    for f in schema.fields:
        if f.type in ("long", "integer"):
            bad = next((row for row, v in enumerate(columns[f.name]) if type(v) is int and not low <= v <= high), None)
        elif text and f.type in ("double", "float"):
            bad = next((row for row, v in enumerate(columns[f.name]) if type(v) is float and math.isinf(v)), None)
        else:
            continue
        if bad is not None:
            raise InvalidInput(
                f"{f.name} is out of range in row {bad}: {str(columns[f.name][bad])[:40]}",
                fields=[{"field": f.name, "expected": f.type, "row": bad}],
            )


async def _mirror(
    service: Service, endpoint: Endpoint, shadow: Deployment, columns: dict[str, list[Any]], rows: int, rid: str
) -> None:
    """The shadow's answer never reaches the client; its failure is only counted."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        model = shadow.model
        assert model is not None
        copy = {k: list(v) for k, v in columns.items()}
        model.schema.validate(copy)
        result = await shadow.batcher.submit(copy, rows)
        latency_ms = (time.perf_counter() - started) * 1000
        service.captures[endpoint.name].offer(
            rid, shadow.name, result.model.version, copy, result.labels, result.scores, latency_ms, shadow=True
        )
    except ServingError as exc:
        outcome = "dropped" if exc.status in (429, 503) else "error"
    except Exception:  # noqa: BLE001
        outcome = "error"
    service.metrics.shadow.labels(endpoint.name, shadow.name, outcome).inc()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"the body has {size} bytes; the limit is {limit}")
        return await request.body()
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_ID_PREFIX = uuid.uuid4().hex[:16]  # random per process: ids stay unique across workers and restarts
_ID_COUNTER = itertools.count(1)


def _request_id(request: Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and len(given) <= 128 and given.isprintable():
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"  # 32 hex digits, no system call per request


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, media_type=JSON, headers=headers)


def _error(exc: ServingError, rid: str, deployment: str | None = None) -> Response:
    headers = {REQUEST_ID_HEADER: rid, **exc.headers()}
    if deployment and deployment != "-":
        headers[DEPLOYMENT_HEADER] = deployment
    return _json(exc.body(rid), exc.status, headers)


# --- operations ---------------------------------------------------------------------------


def _operations(app: FastAPI, service: Service) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers.")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", tags=["operations"], summary="Readiness: models loaded, traffic has somewhere to go.",
             responses={503: _STATUS_503})
    async def readyz() -> Response:
        ready = service.ready
        body = {"ready": ready, "models": {n: e.status() for n, e in service.endpoints.items()}}
        return _json(body, 200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/ping", tags=["operations"], summary="MLflow scoring server health check.", include_in_schema=False)
    @app.get("/health", include_in_schema=False)
    async def ping() -> Response:
        return _json({"status": "ok"}, 200 if service.ready else 503)

    @app.get("/v2/health/live", tags=["open inference protocol"])
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["open inference protocol"], responses={503: _STATUS_503})
    async def v2_ready() -> Response:
        return _json({"ready": service.ready}, 200 if service.ready else 503)

    @app.get("/v2", tags=["open inference protocol"], summary="Server metadata.")
    async def v2_server() -> Response:
        from importlib.metadata import version

        return _json({"name": "conveyor", "version": version("conveyor"), "extensions": []})


def _model_routes(app: FastAPI, service: Service) -> None:
    @app.get("/v2/models/{name}", tags=["open inference protocol"], summary="Model metadata.",
             responses=_errors(404))
    async def v2_metadata(name: str) -> Response:
        endpoint = service.endpoint(name)
        primary = endpoint.primary()
        if primary is None or primary.model is None:
            raise NotFound(f"model {name!r} has no deployment loaded yet")
        loaded = [d for d in endpoint.deployments.values() if d.model is not None]
        versions = sorted({d.model.version for d in loaded if d.model}, key=lambda v: int(v) if v.isdigit() else 0)
        return _json(protocols.v2_metadata(name, versions, primary.model.schema,
                                           primary.model.output_kind == "classifier"))

    @app.get("/v2/models/{name}/ready", tags=["open inference protocol"], summary="Model readiness.",
             responses={**_errors(404), 503: _STATUS_503})
    async def v2_model_ready(name: str) -> Response:
        endpoint = service.endpoint(name)
        return _json({"name": name, "ready": endpoint.ready}, 200 if endpoint.ready else 503)

    @app.post("/models/{name}/feedback", tags=["models"], summary="Ground-truth labels by request id.",
              responses=_errors(400, 401, 403, 404, 413, 422), openapi_extra=_body(_FEEDBACK))
    async def feedback(name: str, request: Request) -> Response:
        """Body: `{"request_id": "...", "label": 1}` (optionally `"row": 0`), or
        `{"feedback": [{"request_id": ..., "label": ...}, ...]}`."""
        service.endpoint(name)
        service.auth.check(request.headers.get("authorization"), "predict")
        body = await _read_body(request, service.endpoints[name].spec.limits.max_body_bytes)
        payload = protocols.loads(body)
        items = payload.get("feedback") if isinstance(payload, dict) and "feedback" in payload else [payload]
        if not isinstance(items, list) or not items:
            raise MalformedRequest("send {'request_id': ..., 'label': ...} or {'feedback': [...]}")
        bad = [i for i, item in enumerate(items) if not _valid_feedback(item)]
        if bad:
            raise InvalidInput(
                "every feedback item needs a 'request_id' string and a 'label' number, string or boolean "
                "(and a 'row' integer >= 0 if any)", items=bad[:10],
            )
        path = await run_in_threadpool(write_feedback, service.artifact_store, name, items)
        log.info("feedback stored", extra={"model": name, "items": len(items), "path": path})
        return _json({"stored": len(items)})


def _valid_feedback(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    request_id, label, row = item.get("request_id"), item.get("label"), item.get("row")
    return (
        isinstance(request_id, str) and bool(request_id)
        and isinstance(label, (str, int, float))  # bool is an int
        and (row is None or (isinstance(row, int) and not isinstance(row, bool) and 0 <= row < 2**63))
    )


def _admin_routes(app: FastAPI, service: Service) -> None:
    @app.get("/admin/models/{name}", tags=["admin"], summary="Deployments, versions, weights, state.",
             responses=_errors(401, 403, 404), openapi_extra=_BEARER)
    async def admin_status(name: str, request: Request) -> Response:
        service.auth.check(request.headers.get("authorization"), "deploy")
        endpoint = service.endpoint(name)
        status = endpoint.status()
        poller = service.pollers[name]
        status["poller"] = {"polls": poller.polls, "failures": poller.failures, "last_error": poller.last_error}
        status["capture"] = {"written": service.captures[name].written, "dropped": service.captures[name].dropped}
        status["pid"] = os.getpid()
        return _json(status)

    @app.put("/admin/models/{name}/traffic", tags=["admin"], summary="Set traffic weights (all workers).",
             responses=_errors(400, 401, 403, 404, 413, 422), openapi_extra={**_body(_TRAFFIC), **_BEARER})
    async def admin_traffic(name: str, request: Request) -> Response:
        """Body: `{"weights": {"prod": 90, "staging": 10}}`. New deployments load in the
        background and take traffic once warm."""
        who = service.auth.check(request.headers.get("authorization"), "deploy")
        endpoint = service.endpoint(name)
        payload = protocols.loads(await _read_body(request, endpoint.spec.limits.max_body_bytes))
        weights = payload.get("weights") if isinstance(payload, dict) else None
        if not isinstance(weights, dict) or not weights:
            raise MalformedRequest("send {'weights': {'prod': 90, 'staging': 10}}")
        clean: dict[str, float] = {}
        for key, value in weights.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise InvalidInput(f"weight of {key!r} must be a number >= 0", field=key)
            if not endpoint.known_name(str(key)):
                raise InvalidInput(
                    f"unknown deployment {key!r}", field=key,
                    hint=f"use a stage {endpoint.stages}, a version like v3, or one of serve.deployments",
                )
            clean[str(key)] = float(value)
        check_weights(clean)
        await run_in_threadpool(_change_traffic, service, name, clean, f"token:{who}")
        endpoint.set_weights(clean)
        service.pollers[name].poke()  # load new deployments now
        return _json(endpoint.status())

    @app.post("/admin/models/{name}/reload", tags=["admin"], summary="Poll the registry now.",
              responses=_errors(401, 403, 404), openapi_extra=_BEARER)
    async def admin_reload(name: str, request: Request) -> Response:
        service.auth.check(request.headers.get("authorization"), "deploy")
        service.endpoint(name)
        service.pollers[name].poke()
        return _json({"polling": True})


def _change_traffic(service: Service, name: str, weights: dict[str, float], who: str) -> None:
    """Write the shared weights, then the audit event (old and new weights, the token's name)."""
    store = service.traffic[name]
    before = store.read()
    store.write(TrafficState(weights, by=who, config=before.config if before else None))
    log.info("traffic changed", extra={"model": name, "weights": weights, "by": who})
    if service.audit is None:
        return
    event = traffic_event(name, before.weights if before else None, weights, who, service.environment)
    try:
        service.audit.append(event)
    except Exception as exc:  # noqa: BLE001 - the change is made: keep the record in the logs
        log.error("audit event not written: %s", exc, extra={"event": event.to_dict()})


# --- OpenAPI -------------------------------------------------------------------------------

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR = {
    "type": "object", "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": "string"},
                   "request_id": {"type": "string"}},
}
_STATUS_503 = {"description": "Not ready", "content": {JSON: {"schema": {"type": "object"}}}}
_BEARER = {"security": [{"bearer": []}]}
_LABEL = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}], "description": "The true label or value."}
_FEEDBACK_ITEM = {
    "type": "object", "required": ["request_id", "label"],
    "properties": {"request_id": {"type": "string", "minLength": 1}, "label": _LABEL,
                   "row": {"type": "integer", "minimum": 0, "description": "The row of a multi-row request."}},
}
_FEEDBACK = {"anyOf": [_FEEDBACK_ITEM, {
    "type": "object", "required": ["feedback"],
    "properties": {"feedback": {"type": "array", "minItems": 1, "items": _FEEDBACK_ITEM}},
}]}
_TRAFFIC = {
    "type": "object", "required": ["weights"],
    "properties": {"weights": {
        "type": "object", "minProperties": 1, "additionalProperties": {"type": "number", "minimum": 0},
        "description": "Deployment (a stage, vN, or one of serve.deployments) → relative weight; "
                       "at least one positive.",
    }},
    "example": {"weights": {"prod": 90, "staging": 10}},
}
_PREDICTIONS = {"type": "object", "properties": {
    "predictions": {"type": "array", "items": {}}, "scores": {"type": "array", "items": {"type": "number"}},
    "deployment": {"type": "string"}, "version": {"type": "string"}, "request_id": {"type": "string"},
}}
_V2_OUTPUTS = {"type": "object", "properties": {
    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
    "parameters": {"type": "object"}, "outputs": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array"},
    }}},
}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses: every error has the body of `ServingError.body`."""
    return {code: {"description": HTTPStatus(code).phrase, "content": {JSON: {"schema": _ERROR_REF}}} for code in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body for routes that read it themselves (documented, not validated by FastAPI)."""
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


_JSON_TYPES = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
               "string": "string", "boolean": "boolean"}


def _input_bodies(schema: InputSchema | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Request bodies for the MLflow and OIP routes; with a loaded model, its signature's
    columns and types (values may be null: missing)."""
    fields = schema.fields if schema is not None else ()
    names = [f.name for f in fields]
    value = {f.name: ({"type": [_JSON_TYPES[f.type], "null"]} if f.type in _JSON_TYPES else {}) for f in fields}
    record: dict[str, Any] = {"type": "object"}
    if fields:
        record.update(properties=value, required=[f.name for f in fields if f.required], additionalProperties=False)
    split: dict[str, Any] = {"type": "object", "required": ["columns", "data"], "properties": {
        "columns": {"type": "array", "items": {"type": "string", "enum": names} if names else {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array"}},
    }}
    columns: dict[str, Any] = {"type": "object"}
    if fields:
        columns.update(properties={n: {"type": "array", "items": v} for n, v in value.items()},
                       required=record["required"], additionalProperties=False)
    mlflow = {"oneOf": [
        {"type": "object", "required": [key], "properties": {key: body, "params": {"type": "object"}}}
        for key, body in (
            ("dataframe_split", split), ("dataframe_records", {"type": "array", "minItems": 1, "items": record}),
            ("instances", {"type": "array", "minItems": 1, "items": record}), ("inputs", columns),
        )
    ]}
    tensor: dict[str, Any] = {
        "type": "object", "required": ["name", "shape", "datatype", "data"],
        "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                       "datatype": {"type": "string"}, "data": {"type": "array", "items": {}}},
    }
    if fields:
        tensor = {"oneOf": [{
            "type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": {"name": {"const": f.name}, "shape": {"type": "array", "items": {"type": "integer"}},
                           "datatype": {"const": f.v2_datatype}, "data": {"type": "array", "items": value[f.name]}},
        } for f in fields]}
    v2 = {"type": "object", "required": ["inputs"],
          "properties": {"id": {"type": "string"}, "inputs": {"type": "array", "minItems": 1, "items": tensor}}}
    return mlflow, v2


def _predict_operation(summary: str, body: dict[str, Any], parameters: list[dict[str, Any]], *, v2: bool) -> dict[str, Any]:
    content: dict[str, Any] = {JSON: {"schema": body}}
    if not v2:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"post": {
        "tags": ["open inference protocol" if v2 else "models"], "summary": summary, "parameters": parameters,
        "requestBody": {"required": True, "content": content},
        "responses": {"200": {"description": "Predictions", "content": {JSON: {"schema": _V2_OUTPUTS if v2 else _PREDICTIONS}}},
                      **{str(c): r for c, r in _errors(400, 401, 404, 413, 415, 422, 429, 500, 503).items()}},
    }}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the hot routes (they bypass FastAPI for speed): model names are
    the served ones, prediction bodies follow the loaded model's signature, errors have one
    shape, admin routes need a bearer token. Rebuilt when the signature changes."""
    from fastapi.openapi.utils import get_openapi

    service: Service = app.state.service
    models = sorted(service.endpoints)
    primary = service.endpoints[models[0]].primary()
    signature = primary.model.schema if primary is not None and primary.model is not None else None
    if app.openapi_schema and getattr(app.state, "openapi_signature", None) == signature:
        return app.openapi_schema
    sticky = service.endpoints[models[0]].spec.sticky_header
    schema = get_openapi(title=app.title, version="1", summary=app.summary, routes=app.routes)
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    headers = [
        {"name": DEPLOYMENT_HEADER.title(), "in": "header", "required": False, "schema": {"type": "string"},
         "description": "Send the request to this deployment (overrides routing)."},
        {"name": sticky, "in": "header", "required": False, "schema": {"type": "string"},
         "description": "Sticky routing key: the same key reaches the same deployment."},
    ]
    mlflow_body, v2_body = _input_bodies(signature)
    paths = schema["paths"]
    mlflow = "Predict (MLflow scoring protocol): JSON or text/csv."
    paths["/models/{name}/invocations"] = _predict_operation(mlflow, mlflow_body, [name, *headers], v2=False)
    paths["/invocations"] = _predict_operation(
        f"{mlflow} The served model ({models[0]}), for MLflow's clients.", mlflow_body, headers, v2=False,
    )
    v2 = "Inference (Open Inference Protocol v2)."
    paths["/v2/models/{name}/infer"] = _predict_operation(v2, v2_body, [name, *headers], v2=True)
    paths["/v2/models/{name}/versions/{version}/infer"] = _predict_operation(
        f"{v2} The deployment that serves this version now.", v2_body, [name, version], v2=True,
    )
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "name":
                    parameter["schema"] = {"type": "string", "enum": models}
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422")):  # FastAPI's; path params never fail
                del responses["422"]
    components = schema.setdefault("components", {})
    components["schemas"] = {
        k: v for k, v in components.get("schemas", {}).items() if k not in ("HTTPValidationError", "ValidationError")
    }
    components["schemas"]["Error"] = _ERROR
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    if not service.auth.predict_open:
        for path, operations in paths.items():
            if "invocations" in path or path.endswith(("/infer", "/feedback")):
                operations["post"].update(_BEARER)
    app.openapi_schema = schema
    app.state.openapi_signature = signature
    return schema
