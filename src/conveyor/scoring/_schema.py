"""The model's input schema, read once from its MLflow signature.

One type for every feature: serving validates request columns against it, batch checks the
input files and coerces rows with it, the scorers type their input frames with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Columns = dict[str, list[Any]]  # {column name: values}, how a parsed request holds its rows

NUMERIC_TYPES = ("double", "float", "long", "integer")
INTEGER_TYPES = ("long", "integer")
_V2_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
}


@dataclass(frozen=True)
class InputField:
    """One model input column: name, MLflow type name (double, long, string, ... or "any")."""

    name: str
    type: str
    required: bool = True

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def integer(self) -> bool:
        return self.type in INTEGER_TYPES

    @property
    def text(self) -> bool:
        return self.type == "string"

    @property
    def v2_datatype(self) -> str:
        """The Open Inference Protocol datatype of the column."""
        return _V2_DATATYPES.get(self.type, "BYTES")


@dataclass(frozen=True)
class InputSchema:
    """Named input columns, in signature order (empty: the model names none)."""

    fields: tuple[InputField, ...] = ()

    @classmethod
    def from_signature(cls, signature: Any, fallback: list[str] | None = None) -> InputSchema:
        """The signature's named inputs; without names (no signature, a tensor signature), the
        ``fallback`` columns (the config's features) of unknown type."""
        inputs = getattr(signature, "inputs", None)
        if inputs is None or not inputs.has_input_names():
            return cls.untyped(fallback or [])
        fields = []
        for spec in inputs.inputs:
            kind = getattr(spec.type, "name", None) or str(spec.type)
            fields.append(InputField(spec.name, str(kind).lower(), bool(getattr(spec, "required", True))))
        return cls(tuple(fields))

    @classmethod
    def untyped(cls, names: list[str]) -> InputSchema:
        return cls(tuple(InputField(name, "any") for name in names))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> InputField | None:
        return next((f for f in self.fields if f.name == name), None)
