from __future__ import annotations

import orjson
import pytest

from conveyor.scoring import InputField as Field
from conveyor.scoring import InputSchema
from conveyor.serving.errors import InvalidInput, MalformedRequest, UnsupportedMediaType
from conveyor.serving.protocols import parse_csv, parse_mlflow, parse_v2
from conveyor.serving.signature import validate

SCHEMA = InputSchema((Field("x", "double"), Field("n", "long"), Field("s", "string")))


def _mlflow(payload: object) -> dict:
    return parse_mlflow(orjson.dumps(payload), "application/json", SCHEMA)


def test_every_mlflow_json_format_gives_the_same_columns() -> None:
    expected = {"x": [1.5, 2.0], "n": [1, 2], "s": ["a", "b"]}
    assert _mlflow({"dataframe_split": {"columns": ["x", "n", "s"], "data": [[1.5, 1, "a"], [2.0, 2, "b"]]}}) == expected
    assert _mlflow({"dataframe_records": [{"x": 1.5, "n": 1, "s": "a"}, {"x": 2.0, "n": 2, "s": "b"}]}) == expected
    assert _mlflow({"instances": [{"x": 1.5, "n": 1, "s": "a"}, {"x": 2.0, "n": 2, "s": "b"}]}) == expected
    assert _mlflow({"inputs": {"x": [1.5, 2.0], "n": [1, 2], "s": ["a", "b"]}}) == expected
    assert _mlflow({"inputs": [[1.5, 1, "a"], [2.0, 2, "b"]]}) == expected


def test_records_with_different_keys_are_aligned() -> None:
    columns = _mlflow({"dataframe_records": [{"x": 1.0, "n": 1, "s": "a"}, {"x": 2.0, "s": "b"}]})
    assert columns["n"] == [1, None]


def test_csv_is_typed_by_the_signature() -> None:
    columns = parse_csv(b"x,n,s\n1.5,3,a\n,4,\n", SCHEMA)
    assert columns == {"x": [1.5, None], "n": [3, 4], "s": ["a", None]}
    with pytest.raises(InvalidInput, match="x"):
        parse_csv(b"x,n,s\nabc,3,a\n", SCHEMA)
    with pytest.raises(MalformedRequest):
        parse_csv(b"x,n,s\n1,2\n", SCHEMA)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"dataframe_records": [1]}', b'{"instances": [], "inputs": []}', b'{"foo": 1}',
     b'{"dataframe_split": {"columns": ["x"], "data": [[1, 2]]}}'],
)
def test_malformed_mlflow_bodies(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_mlflow(body, "application/json", SCHEMA)


def test_unsupported_content_type() -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_mlflow(b"x", "application/xml", SCHEMA)


def test_v2_named_tensors_and_one_2d_tensor() -> None:
    body = {"id": "r1", "inputs": [
        {"name": "x", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]},
        {"name": "n", "shape": [2, 1], "datatype": "INT64", "data": [[1], [2]]},
        {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]},
    ]}
    columns, rid = parse_v2(orjson.dumps(body), SCHEMA)
    assert rid == "r1" and columns == {"x": [1.0, 2.0], "n": [1, 2], "s": ["a", "b"]}
    rows = {"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "BYTES", "data": [1.0, 1, "a", 2.0, 2, "b"]}]}
    assert parse_v2(orjson.dumps(rows), SCHEMA)[0] == {"x": [1.0, 2.0], "n": [1, 2], "s": ["a", "b"]}
    with pytest.raises(MalformedRequest, match="shape"):
        parse_v2(orjson.dumps({"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1.0]}]}), SCHEMA)


def test_validation_names_missing_extra_and_mistyped_fields() -> None:
    with pytest.raises(InvalidInput) as info:
        validate(SCHEMA, {"x": [1.0], "extra": [1]})
    assert info.value.details["missing"] == ["n", "s"] and info.value.details["unexpected"] == ["extra"]
    with pytest.raises(InvalidInput) as info:
        validate(SCHEMA, {"x": ["1.0"], "n": [1.5], "s": [3]})
    assert [f["field"] for f in info.value.details["fields"]] == ["x", "n", "s"]
    columns = {"x": [1, None], "n": [2.0, 3], "s": ["a", None]}
    assert validate(SCHEMA, columns) == 2 and columns["n"] == [2, 3]
