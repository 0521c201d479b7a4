"""The conveyor.yaml reference, generated from the schema: every key, its type, default and
description, one table per section, then the keys reserved for features not built yet.

Regenerate the checked-in copy after changing :mod:`conveyor.core.config.schema`::

    python -m conveyor.core.config.reference          # writes docs/config-reference.md
    python -m conveyor.core.config.reference --check  # exit 1 if the file is out of date

A test runs the check, so CI fails on a schema change without its reference.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from conveyor.core.config.schema import NOT_READ_YET, ProjectConfig
from conveyor.core.config.thresholds import Condition

REFERENCE_FILE = Path("docs/config-reference.md")
REGENERATE = "python -m conveyor.core.config.reference"


@dataclass(frozen=True)
class Key:
    """One key of a section, as the reference shows it."""

    name: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Section:
    """One mapping of conveyor.yaml (``serve.limits``) and its keys."""

    path: str
    summary: str
    keys: tuple[Key, ...]


def sections(model: type[BaseModel] = ProjectConfig, path: str = "") -> list[Section]:
    """The model's section then, depth first, every section nested in it."""
    keys: list[Key] = []
    nested: list[Section] = []
    for name, info in model.model_fields.items():
        keys.append(Key(info.alias or name, type_name(info.annotation), default_text(info), info.description or ""))
        for suffix, inner in _models_in(info.annotation):
            nested += sections(inner, f"{path}{info.alias or name}{suffix}.")
    summary = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
    return [Section(path.rstrip(".") or "(top level)", summary, tuple(keys)), *nested]


def undocumented(model: type[BaseModel] = ProjectConfig) -> list[str]:
    """Every key that has no description, as its dotted path."""
    return [
        f"{section.path}.{key.name}".removeprefix("(top level).")
        for section in sections(model) for key in section.keys if not key.description
    ]


def render(model: type[BaseModel] = ProjectConfig) -> str:
    lines = [
        "# conveyor.yaml reference",
        "",
        "Generated from `src/conveyor/core/config/schema.py` (the pydantic fields and their",
        f"descriptions) by `{REGENERATE}` (or `make reference`); do not edit by hand.",
        "Unknown keys are refused (with the nearest known key as a suggestion); every value may",
        "use `${VAR}` or `${VAR:-default}`; `environments.NAME` overlays the stack per `--env`.",
        "",
    ]
    for section in sections(model):
        lines += [f"## `{section.path}`" if section.path != "(top level)" else "## Top level", ""]
        if section.summary:
            lines += [section.summary, ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        lines += [
            f"| `{key.name}` | {_cell(key.type)} | {_cell(key.default)} | {_cell(key.description)} |"
            for key in section.keys
        ]
        lines.append("")
    lines += ["## Reserved keys", ""]
    if not NOT_READ_YET:
        lines.append("None now: every key above is read by a built feature.")
        return "\n".join(lines) + "\n"
    lines += [
        "Refused at load with what will read them, until the feature is built:",
        "",
        "| key | read by |",
        "|---|---|",
    ]
    lines += [f"| `{'.'.join(key).replace('*', 'NAME')}` | {_cell(reader)} |" for key, reader in NOT_READ_YET.items()]
    return "\n".join(lines) + "\n"


def type_name(annotation: Any) -> str:
    """A YAML reader's name for a type: `string`, `list of string`, `"a" | "b"`, `mapping`."""
    origin = get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return " \\| ".join(json.dumps(value) for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in get_args(annotation))
    if origin is list:
        return f"list of {type_name(get_args(annotation)[0])}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"mapping {type_name(key)} → {type_name(value)}"
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:  # Annotated[...]
        return type_name(get_args(annotation)[0])
    if annotation is Condition:
        return 'threshold (`">= 0.8"`)'
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation is Any:
        return "any"
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    value = info.get_default(call_default_factory=True) if info.default is PydanticUndefined else info.default
    if isinstance(value, BaseModel):
        return "(its defaults)"
    if value is None:
        return "—"
    return f"`{json.dumps(value, default=_plain)}`"


def _plain(value: object) -> object:
    """A nested model in a default as it would be written: its one set key's value (a stage
    written by its name), else the mapping of the keys it sets."""
    if not isinstance(value, BaseModel):
        raise TypeError(f"{type(value).__name__} in a default cannot be written as YAML")
    written = value.model_dump(exclude_defaults=True)
    return next(iter(written.values())) if len(written) == 1 else written


def _models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """The sections a key's type holds: itself, its list items (``[]``), its mapping values
    (``.NAME``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [found for arg in get_args(annotation) for found in _models_in(arg)]
    if origin is list:
        return [("[]" + suffix, model) for suffix, model in _models_in(get_args(annotation)[0])]
    if origin is dict:
        return [(".NAME" + suffix, model) for suffix, model in _models_in(get_args(annotation)[1])]
    return []


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") if "\\|" not in text else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Write the conveyor.yaml reference.")
    parser.add_argument("--output", type=Path, default=REFERENCE_FILE)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schema")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date with the config schema; regenerate it: {REGENERATE}",
                  file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
