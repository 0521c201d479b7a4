"""The OpenAPI document at `/openapi.json` (and `/docs`).

FastAPI documents the routes it serves; the prediction routes come from
:data:`~conveyor.serving.predict.PREDICT_ROUTES`, with request bodies that follow the
loaded model's signature. Every error has one shape (`ServingError.body`), model names are
the served ones, admin routes need a bearer token. The document is rebuilt when the
signature changes.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from conveyor.serving.predict import PREDICT_ROUTES, PredictRoute
from conveyor.serving.responses import DEPLOYMENT_HEADER, JSON

if TYPE_CHECKING:
    from fastapi import FastAPI

    from conveyor.scoring import InputSchema
    from conveyor.serving.service import Service

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR = {
    "type": "object", "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": "string"},
                   "request_id": {"type": "string"}},
}
NOT_READY = {"description": "Not ready", "content": {JSON: {"schema": {"type": "object"}}}}
BEARER: dict[str, Any] = {"security": [{"bearer": []}]}
PREDICTIONS = {"type": "object", "properties": {
    "predictions": {"type": "array", "items": {}}, "scores": {"type": "array", "items": {"type": "number"}},
    "deployment": {"type": "string"}, "version": {"type": "string"}, "request_id": {"type": "string"},
}}
V2_OUTPUTS = {"type": "object", "properties": {
    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
    "parameters": {"type": "object"}, "outputs": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "data": {"type": "array"},
    }}},
}}
PREDICT_ERRORS = (400, 401, 404, 413, 415, 422, 429, 500, 503)
_JSON_TYPES = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
               "string": "string", "boolean": "boolean"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses: every error has the body of `ServingError.body`."""
    return {code: {"description": HTTPStatus(code).phrase, "content": {JSON: {"schema": ERROR_REF}}} for code in codes}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON request body for routes that read it themselves (documented, not validated by FastAPI)."""
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def install(app: FastAPI, service: Service) -> None:
    app.openapi = lambda: document(app, service)  # type: ignore[method-assign]


def document(app: FastAPI, service: Service) -> dict[str, Any]:
    """FastAPI's schema plus the prediction routes (they bypass FastAPI for speed)."""
    from fastapi.openapi.utils import get_openapi

    models = sorted(service.endpoints)
    primary = service.endpoints[models[0]].primary()
    signature = primary.model.schema if primary is not None and primary.model is not None else None
    if app.openapi_schema and getattr(app.state, "openapi_signature", None) == signature:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version="1", summary=app.summary, routes=app.routes)
    paths = schema["paths"]
    bodies = dict(zip(("mlflow", "v2"), input_bodies(signature), strict=True))
    sticky = service.endpoints[models[0]].spec.sticky_header
    for route in PREDICT_ROUTES:
        paths[route.path] = _predict_operation(route, bodies[route.protocol], sticky, service.default_model)
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
    components["schemas"]["Error"] = ERROR
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    if not service.auth.predict_open:
        for path, operations in paths.items():
            if "invocations" in path or path.endswith(("/infer", "/feedback")):
                operations["post"].update(BEARER)
    app.openapi_schema = schema
    app.state.openapi_signature = signature
    return schema


def _predict_operation(route: PredictRoute, request: dict[str, Any], sticky: str, default: str) -> dict[str, Any]:
    v2 = route.protocol == "v2"
    content: dict[str, Any] = {JSON: {"schema": request}}
    if not v2:
        content["text/csv"] = {"schema": {"type": "string"}}
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in route.parameters]
    if route.routing_headers:
        parameters += [
            {"name": DEPLOYMENT_HEADER.title(), "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Send the request to this deployment (overrides routing)."},
            {"name": sticky, "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Sticky routing key: the same key reaches the same deployment."},
        ]
    return {"post": {
        "tags": ["open inference protocol" if v2 else "models"], "summary": route.summary.format(default=default),
        "parameters": parameters, "requestBody": {"required": True, "content": content},
        "responses": {"200": {"description": "Predictions", "content": {JSON: {"schema": V2_OUTPUTS if v2 else PREDICTIONS}}},
                      **{str(c): r for c, r in errors(*PREDICT_ERRORS).items()}},
    }}


def input_bodies(schema: InputSchema | None) -> tuple[dict[str, Any], dict[str, Any]]:
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
    params = {"type": "object", "additionalProperties": False, "properties": {"probabilities": {
        "type": "boolean", "default": False,
        "description": "Also answer `classes` and `probabilities` (one list per row): every class's probability.",
    }}}
    mlflow = {"oneOf": [
        {"type": "object", "required": [key], "properties": {key: shape, "params": params}}
        for key, shape in (
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
          "properties": {"id": {"type": "string"}, "inputs": {"type": "array", "minItems": 1, "items": tensor},
                         "outputs": {"type": "array", "description": "The outputs to answer (default: predict and "
                                     "score); `probabilities` is FP64 [rows, classes].",
                                     "items": {"type": "object", "required": ["name"], "properties": {
                                         "name": {"enum": ["predict", "score", "probabilities"]}}}}}}
    return mlflow, v2
