"""Request and response formats: MLflow scoring protocol and Open Inference Protocol v2.

Both parse straight to columns (``{name: [values]}``); no DataFrame per request. A request
may ask for per-class probabilities (:class:`Wanted`): MLflow's ``"params":
{"probabilities": true}`` adds ``classes`` and ``probabilities`` (one list per row) to the
answer; v2's ``"outputs": [{"name": "probabilities"}]`` returns that tensor, FP64 of shape
[rows, classes] (v2 returns the outputs asked for; none asked: ``predict`` and ``score``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson

from conveyor.scoring import Columns, InputSchema
from conveyor.serving.errors import MalformedRequest, UnsupportedMediaType
from conveyor.serving.signature import check_numbers, coerce_text, validate

if TYPE_CHECKING:
    from conveyor.scoring import Scorer

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
Protocol = Literal["mlflow", "v2"]
PARAMS = {"probabilities": "true: also the probability of every class (classifiers)"}
V2_OUTPUTS = ("predict", "score", "probabilities")


@dataclass(frozen=True)
class Wanted:
    """The outputs a request asks for."""

    predict: bool = True
    score: bool = True
    probabilities: bool = False


DEFAULT = Wanted()


@dataclass(frozen=True)
class ParsedRequest:
    """A prediction request as checked columns, with what it asks for back."""

    columns: Columns
    rows: int
    client_id: str | None = None  # the v2 request's own id
    wanted: Wanted = DEFAULT


def read_request(protocol: Protocol, body: bytes, content_type: str, schema: InputSchema) -> ParsedRequest:
    """A prediction request as checked columns.

    Parses the protocol's body, checks it against the signature (422 naming the fields) and
    refuses what the model cannot take: lists nested too deeply (400), numbers past int64
    or infinite (422)."""
    client_id = None
    try:
        if protocol == "v2":
            columns, client_id, wanted = parse_v2_request(body, schema)
        else:
            columns, wanted = parse_mlflow_request(body, content_type, schema)
    except RecursionError:
        raise MalformedRequest("the body nests lists too deeply") from None
    rows = validate(schema, columns)
    check_numbers(schema, columns, text=protocol == "mlflow" and "csv" in content_type)
    return ParsedRequest(columns, rows, client_id, wanted)


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from None


# --- MLflow scoring protocol -------------------------------------------------------------


def parse_mlflow(body: bytes, content_type: str, schema: InputSchema) -> Columns:
    return parse_mlflow_request(body, content_type, schema)[0]


def parse_mlflow_request(body: bytes, content_type: str, schema: InputSchema) -> tuple[Columns, Wanted]:
    """The columns of an MLflow scoring request and the outputs its ``params`` ask for."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return parse_csv(body, schema), DEFAULT
    if kind not in ("", "application/json", "application/x-www-form-urlencoded", "*/*"):
        raise UnsupportedMediaType(
            f"content type {kind!r} is not supported", hint="send application/json or text/csv"
        )
    payload = loads(body)
    if not isinstance(payload, dict):
        raise MalformedRequest(
            "the body must be a JSON object with one of " + ", ".join(MLFLOW_FORMATS)
        )
    keys = [k for k in payload if k in MLFLOW_FORMATS]
    unknown = [k for k in payload if k not in MLFLOW_FORMATS and k != "params"]
    if len(keys) != 1 or unknown:
        raise MalformedRequest(
            "the body must have exactly one of " + ", ".join(MLFLOW_FORMATS)
            + (f" (unknown keys: {unknown})" if unknown else f" (got {sorted(payload)})")
        )
    wanted = _mlflow_params(payload.get("params"))
    key = keys[0]
    data = payload[key]
    if key == "dataframe_split":
        return _from_split(data), wanted
    if key == "dataframe_records":
        if not isinstance(data, list):
            raise MalformedRequest("dataframe_records must be a list of objects")
        return _from_records(data), wanted
    return _from_tensor_like(key, data, schema), wanted


def _mlflow_params(params: Any) -> Wanted:
    """``"params": {"probabilities": true}``; any other parameter is refused (400)."""
    if params is None:
        return DEFAULT
    if not isinstance(params, dict):
        raise MalformedRequest("params must be an object, e.g. {\"probabilities\": true}")
    unknown = sorted(k for k in params if k not in PARAMS)
    if unknown:
        raise MalformedRequest(
            f"unknown params {unknown}", hint="the known params: " + "; ".join(f"{k}: {v}" for k, v in PARAMS.items())
        )
    probabilities = params.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise MalformedRequest(f"params.probabilities must be true or false, not {probabilities!r}")
    return Wanted(probabilities=probabilities)


def _from_split(data: Any) -> Columns:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MalformedRequest("dataframe_split must be an object with 'columns' and 'data'")
    names = data.get("columns")
    rows = data["data"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MalformedRequest("dataframe_split.columns must be a list of column names")
    width = len(names)
    for row in rows:
        if not isinstance(row, list) or len(row) != width:
            raise MalformedRequest(f"every row of dataframe_split.data must be a list of {width} values")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _from_records(records: list[Any]) -> Columns:
    if not records:
        return {}
    first = records[0]
    if not isinstance(first, dict):
        raise MalformedRequest("records must be JSON objects (column: value)")
    keys = first.keys()
    uniform = True
    for record in records:
        if not isinstance(record, dict):
            raise MalformedRequest("records must be JSON objects (column: value)")
        if record.keys() != keys:
            uniform = False
    if uniform:
        return {name: [r[name] for r in records] for name in keys}
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return {name: [r.get(name) for r in records] for name in names}


def _from_tensor_like(key: str, data: Any, schema: InputSchema) -> Columns:
    if isinstance(data, dict):  # {"col": [values...]} or {"col": value}
        columns: Columns = {}
        for name, values in data.items():
            columns[name] = values if isinstance(values, list) else [values]
        return columns
    if isinstance(data, list) and data:
        if isinstance(data[0], dict):
            return _from_records(data)
        if isinstance(data[0], list):  # rows in signature order
            names = schema.names
            if not names:
                raise MalformedRequest(f"{key} as a list of lists needs a model with named inputs")
            return _from_split({"columns": names, "data": data})
    raise MalformedRequest(f"{key} must be an object of columns or a list of records")


def parse_csv(body: bytes, schema: InputSchema) -> Columns:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the CSV body is not UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        rows = list(reader)
    except StopIteration:
        raise MalformedRequest("the CSV body is empty") from None
    except csv.Error as exc:
        raise MalformedRequest(f"the CSV body is malformed: {exc}") from None
    rows = [row for row in rows if row]
    if header and header[0] == "" and len(header) > 1:  # a pandas index column
        header = header[1:]
        rows = [row[1:] for row in rows]
    width = len(header)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise MalformedRequest(f"CSV row {index + 1} has {len(row)} cells, the header {width}")
    columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    coerce_text(schema, columns)
    return columns


def mlflow_response(
    labels: list[Any], deployment: str, version: str, request_id: str, scores: list[float] | None,
    probabilities: Probabilities | None = None,
) -> bytes:
    body: dict[str, Any] = {"predictions": labels}
    if scores is not None:
        body["scores"] = scores
    if probabilities is not None:
        body["classes"] = probabilities.classes.tolist()
        body["probabilities"] = probabilities.values.tolist()
    body["deployment"] = deployment
    body["version"] = version
    body["request_id"] = request_id
    return orjson.dumps(body)


# --- Open Inference Protocol (KServe v2) -------------------------------------------------


def parse_v2(body: bytes, schema: InputSchema) -> tuple[Columns, str | None]:
    columns, request_id, _ = parse_v2_request(body, schema)
    return columns, request_id


def parse_v2_request(body: bytes, schema: InputSchema) -> tuple[Columns, str | None, Wanted]:
    """The columns of an inference request, its id and the outputs it asks for."""
    payload = loads(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise MalformedRequest("an inference request is an object with an 'inputs' list")
    columns, request_id = _v2_inputs(payload["inputs"], schema, payload.get("id"))
    return columns, request_id, _v2_outputs(payload.get("outputs"))


def _v2_outputs(outputs: Any) -> Wanted:
    """``"outputs": [{"name": "probabilities"}, ...]``: only those outputs (none: the default)."""
    if outputs is None:
        return DEFAULT
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
        raise MalformedRequest("outputs must be a list of objects with a 'name', e.g. [{\"name\": \"probabilities\"}]")
    names = [o["name"] for o in outputs]
    unknown = [n for n in names if n not in V2_OUTPUTS]
    if unknown:
        raise MalformedRequest(f"unknown outputs {unknown}", hint=f"the model's outputs are {list(V2_OUTPUTS)}")
    if not names:
        return DEFAULT
    return Wanted(predict="predict" in names, score="score" in names, probabilities="probabilities" in names)


def _v2_inputs(tensors: list[Any], schema: InputSchema, request_id: Any) -> tuple[Columns, str | None]:
    columns: Columns = {}
    for tensor in tensors:
        if not isinstance(tensor, dict) or "name" not in tensor or "data" not in tensor:
            raise MalformedRequest("each input tensor needs 'name', 'shape', 'datatype' and 'data'")
        data = _flatten(tensor["data"])
        shape = tensor.get("shape") or [len(data)]
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            raise MalformedRequest(f"input {tensor['name']!r}: shape must be a list of integers")
        if len(tensors) == 1 and len(shape) == 2 and tensor["name"] not in schema.names:
            rows, width = shape  # one 2-D tensor: rows in signature order
            if width != len(schema.names) or rows * width != len(data):
                raise MalformedRequest(
                    f"input {tensor['name']!r} of shape {shape} does not fit {len(schema.names)} "
                    "named inputs; send one tensor per input column"
                )
            return {n: data[i::width] for i, n in enumerate(schema.names)}, _text_or_none(request_id)
        count = 1
        for dim in shape:
            count *= dim
        if count != len(data):
            raise MalformedRequest(
                f"input {tensor['name']!r}: shape {shape} holds {count} values, data has {len(data)}"
            )
        if tensor.get("datatype") == "BYTES":
            data = [v.decode() if isinstance(v, bytes) else v for v in data]
        columns[str(tensor["name"])] = data
    return columns, _text_or_none(request_id)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise MalformedRequest("tensor data must be a list")
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        for part in data:
            flat.extend(_flatten(part) if isinstance(part, list) else [part])
        return flat
    return data


def v2_datatype(values: list[Any]) -> str:
    if not values:
        return "FP64"
    first = values[0]
    if isinstance(first, bool):
        return "BOOL"
    if isinstance(first, int):
        return "INT64"
    if isinstance(first, float):
        return "FP64"
    return "BYTES"


@dataclass(frozen=True)
class Probabilities:
    """A request's class probabilities: ``values[i, j]`` is P(``classes[j]``) for row i."""

    classes: np.ndarray
    values: np.ndarray


def v2_response(
    model: str, labels: list[Any], scores: list[float] | None, deployment: str, version: str,
    request_id: str, client_id: str | None, probabilities: Probabilities | None = None,
    wanted: Wanted = DEFAULT,
) -> bytes:
    outputs: list[dict[str, Any]] = []
    if wanted.predict:
        outputs.append({"name": "predict", "datatype": v2_datatype(labels), "shape": [len(labels)], "data": labels})
    if scores is not None and wanted.score:
        outputs.append({"name": "score", "datatype": "FP64", "shape": [len(scores)], "data": scores})
    if probabilities is not None:
        values = probabilities.values
        outputs.append({
            "name": "probabilities", "datatype": "FP64", "shape": list(values.shape),
            "data": values.reshape(-1).tolist(), "parameters": {"classes": probabilities.classes.tolist()},
        })
    body = {
        "model_name": model,
        "model_version": version,
        "id": client_id or request_id,
        "parameters": {"deployment": deployment, "request_id": request_id},
        "outputs": outputs,
    }
    return orjson.dumps(body)


def array_datatype(values: np.ndarray) -> str:
    """The Open Inference Protocol datatype of a numpy array's values."""
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'UINT' if kind == 'u' else 'INT'}{size * 8}"
    if kind == "f":
        return "FP32" if size == 4 else "FP64"
    if kind == "O" and len(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.tolist()):
        return "FP64" if any(isinstance(v, float) for v in values.tolist()) else "INT64"
    return "BYTES"


def v2_metadata(model: str, versions: list[str], scorer: Scorer) -> dict[str, Any]:
    """The model's metadata: its inputs from the signature; its outputs (the label's
    datatype from the classes, FP64 for a scikit-learn regressor's values)."""
    classes = scorer.classes
    labels = _label_classes(scorer)
    if labels is not None:
        label = array_datatype(labels)
    elif scorer.flavor in ("plan", "sklearn"):
        label = "FP64"  # scikit-learn regressors predict float64
    else:
        label = "BYTES"  # a pyfunc model's output: not known before it answers
    outputs: list[dict[str, Any]] = [{"name": "predict", "datatype": label, "shape": [-1]}]
    if classes is not None:
        outputs.append({"name": "score", "datatype": "FP64", "shape": [-1]})
        outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, len(classes)],
                        "parameters": {"classes": np.asarray(classes).tolist()}})
    return {
        "name": model,
        "versions": versions,
        "platform": "mlflow",
        "inputs": [{"name": f.name, "datatype": f.v2_datatype, "shape": [-1]} for f in scorer.schema.fields],
        "outputs": outputs,
    }


def _label_classes(scorer: Scorer) -> np.ndarray | None:
    """The classes a classifier's labels come from, probabilities or not."""
    if scorer.classes is not None:
        return np.asarray(scorer.classes)
    plan = getattr(scorer, "plan", None)
    for known in (getattr(plan, "classes", None), getattr(scorer.estimator, "classes_", None)):
        if known is not None:
            return np.asarray(known)
    return None
