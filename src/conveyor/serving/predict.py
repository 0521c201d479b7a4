"""The prediction routes: declared once in :data:`PREDICT_ROUTES`, answered by one handler
per protocol.

The table is read three times: by the hot path (which answers these POSTs straight from
the server, without FastAPI's middleware), by the FastAPI app (which keeps the routes, so
any other method gets FastAPI's answer) and by the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from conveyor.serving import protocols
from conveyor.serving.errors import InvalidInput, PayloadTooLarge, ServingError
from conveyor.serving.requests import REQUEST_ID_HEADER, read_body, request_id
from conveyor.serving.responses import DEPLOYMENT_HEADER, JSON, VERSION_HEADER, error_response
from conveyor.serving.signature import validate

if TYPE_CHECKING:
    from conveyor.scoring import Columns
    from conveyor.serving.batcher import Result
    from conveyor.serving.deployments import Deployment, Endpoint
    from conveyor.serving.service import Service

log = logging.getLogger("conveyor.serving")

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class PredictRoute:
    """One prediction route: a POST path template, its protocol and its documentation."""

    path: str
    protocol: protocols.Protocol
    summary: str
    routing_headers: bool = True  # the deployment and sticky headers choose the deployment

    @property
    def parameters(self) -> list[str]:
        """Path parameters, in order (`name`, `version`)."""
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


_MLFLOW = "Predict (MLflow scoring protocol): JSON or text/csv."
_V2 = "Inference (Open Inference Protocol v2)."
PREDICT_ROUTES: tuple[PredictRoute, ...] = (
    PredictRoute("/models/{name}/invocations", "mlflow", _MLFLOW),
    # MLflow's own clients post to /invocations: the default model answers there
    PredictRoute("/invocations", "mlflow", f"{_MLFLOW} The served model ({{default}}), for MLflow's clients."),
    PredictRoute("/v2/models/{name}/infer", "v2", _V2),
    PredictRoute("/v2/models/{name}/versions/{version}/infer", "v2",
                 f"{_V2} The deployment that serves this version now.", routing_headers=False),
)


def handlers(service: Service) -> dict[str, Handler]:
    """The handler of each route in :data:`PREDICT_ROUTES`, by path."""
    by_protocol = {protocol: predict_handler(service, protocol) for protocol in ("mlflow", "v2")}
    return {route.path: by_protocol[route.protocol] for route in PREDICT_ROUTES}


def predict_handler(service: Service, protocol: protocols.Protocol) -> Handler:
    """One request: admit → route → read → batch → answer; capture and shadow off the
    response path. Past the in-flight limit: 503 at once. Every failure becomes its
    response through `error_response` (and is counted)."""
    metrics = service.metrics
    auth = service.auth
    admission = service.admission
    default_model = service.default_model

    async def handler(request: Request) -> Response:
        started = time.perf_counter()
        headers = request.headers
        rid = request_id(request)
        name = request.path_params.get("name") or default_model
        if admission.full():  # shed at once, before the body is read
            served = name if name in service.endpoints else "-"
            metrics.shed_request(served, "in_flight")
            metrics.request(served, "-", 503, None)
            return error_response(admission.refusal(), rid)
        admission.in_flight += 1
        dep_name = "-"
        endpoint: Endpoint | None = None
        try:
            caller = None if auth.predict_open else auth.check(headers.get("authorization"), "predict")
            endpoint = service.endpoint(name, caller=caller)  # after the token: a 404 lists models to callers only
            spec = endpoint.spec
            body = await read_body(request, spec.limits.max_body_bytes)
            pinned = request.path_params.get("version")
            if pinned is not None:
                dep = endpoint.serving_version(str(pinned))
            else:
                dep = endpoint.route(headers.get(spec.sticky_header), headers.get(DEPLOYMENT_HEADER))
            dep_name = dep.name
            model = dep.model
            assert model is not None  # route() only returns loaded deployments
            parsed = protocols.read_request(protocol, body, headers.get("content-type", ""), model.schema)
            columns, rows = parsed.columns, parsed.rows
            if rows > spec.limits.max_rows:
                raise PayloadTooLarge(f"{rows} rows in one request; the limit is {spec.limits.max_rows}")
            if parsed.wanted.probabilities and model.classes is None:
                raise no_probabilities(name, dep_name)
            shadow = endpoint.shadow_for(dep)
            result = await dep.batcher.submit(columns, rows)
            version = result.model.version
            latency = time.perf_counter() - started
            probabilities = _probabilities(result, parsed.wanted, name, dep_name)
            if protocol == "v2":
                content = protocols.v2_response(name, result.labels, result.scores, dep_name, version, rid,
                                                parsed.client_id, probabilities, parsed.wanted)
            else:
                content = protocols.mlflow_response(result.labels, dep_name, version, rid, result.scores,
                                                    probabilities)
            capture = service.captures[name]
            if shadow is not None or capture.wanted():
                capture.offer(rid, dep_name, version, columns, result.labels, result.scores, latency * 1000)
            if shadow is not None:
                _spawn(service, _mirror(service, endpoint, shadow, columns, rows, rid))
            metrics.request(name, dep_name, 200, latency)
            return Response(
                content, 200, media_type=JSON,
                headers={DEPLOYMENT_HEADER: dep_name, VERSION_HEADER: version, REQUEST_ID_HEADER: rid},
            )
        except Exception as exc:  # noqa: BLE001 - every failure is answered, never a stack trace
            response = error_response(exc, rid, dep_name, model=name)
            status = response.status_code
            metrics.request(name if endpoint else "-", dep_name, status,
                            time.perf_counter() - started if status >= 500 else None)
            return response
        finally:
            admission.in_flight -= 1

    return handler


def no_probabilities(model: str, deployment: str) -> InvalidInput:
    return InvalidInput(
        f"deployment {deployment!r} of {model!r} gives no class probabilities (a regressor, or a "
        "classifier without predict_proba)",
        hint="ask for predictions only: leave out params.probabilities / the 'probabilities' output",
    )


def _probabilities(result: Result, wanted: protocols.Wanted, model: str, deployment: str) -> protocols.Probabilities | None:
    """The request's class probabilities, when it asks for them (nothing is built otherwise)."""
    if not wanted.probabilities:
        return None
    classes = result.model.classes
    if result.proba is None or classes is None:  # the version was swapped for one without
        raise no_probabilities(model, deployment)
    return protocols.Probabilities(classes, result.proba)


def _spawn(service: Service, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(work)
    service.tasks.add(task)
    task.add_done_callback(service.tasks.discard)


async def _mirror(
    service: Service, endpoint: Endpoint, shadow: Deployment, columns: Columns, rows: int, rid: str
) -> None:
    """The shadow's answer never reaches the client; its failure is only counted."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        model = shadow.model
        assert model is not None
        copy = {k: list(v) for k, v in columns.items()}
        validate(model.schema, copy)
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
