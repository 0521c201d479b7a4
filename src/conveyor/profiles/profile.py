"""Mergeable data profiles: fixed-edge histograms, category counts, missing counts, moments.

A profile is plain data (JSON round trip): the schema it was made with (a column's kind,
role and fixed edges or vocabulary), and per column a :class:`NumericProfile` or a
:class:`CategoricalProfile`. Profiles made with the same schema merge
(:func:`conveyor.profiles.merge.merge`); :class:`conveyor.profiles.profiler.Profiler` makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from conveyor.profiles.histogram import histogram_sums

Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "prediction", "target"]

NEW_CATEGORY_CAP = 50
FORMAT_VERSION = 1
# A category (or an invalid-value example) longer than this is kept as its first
# ``NAME_PREFIX`` characters plus a hash of the whole value: profiles, reports and terminal
# lines stay bounded whatever the cells hold, and distinct long values stay distinct.
MAX_NAME_CHARS = 200
NAME_PREFIX = 64


def category_name(value: object) -> str:
    """The name a value is counted under: ``str(value)``, or for a long one its prefix and
    ``…#`` plus 16 hex digits of its SHA-256 (at most ``NAME_PREFIX + 18`` characters)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_NAME_CHARS:
        return text
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{text[:NAME_PREFIX]}…#{digest}"


@dataclass(frozen=True)
class ColumnSchema:
    """How one column is profiled: its kind and role, and the fixed edges or vocabulary.

    A ``discrete`` numeric column had few distinct values in the reference: its edges are
    those values plus one just above the largest, so each inner bin holds exactly one value
    (its left edge) and proportions of every value are compared."""

    name: str
    kind: Kind
    role: Role = "feature"
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    dtype: str = ""
    discrete: bool = False

    @property
    def distinct(self) -> int | None:
        """How many distinct values a discrete column had in the reference (else None)."""
        return len(self.edges) - 1 if self.discrete else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "role": self.role, "dtype": self.dtype}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
            out["discrete"] = self.discrete
        else:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        return cls(
            name=data["name"],
            kind=data["kind"],
            role=data.get("role", "feature"),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(str(c) for c in data.get("categories", ())),
            dtype=data.get("dtype", ""),
            discrete=bool(data.get("discrete", False)),
        )


@dataclass
class NumericProfile:
    """Histogram over fixed edges (bin 0 below the first edge, the last bin above the last
    edge), counts of missing and non-numeric values, and mergeable moments. ``sums`` holds the
    sum of the values in each bin: where the mass lies inside a bin, and how far the outer
    bins' tails reach (None in profiles written before it was kept)."""

    counts: np.ndarray
    count: int = 0
    missing: int = 0
    invalid: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    invalid_examples: list[str] = field(default_factory=list)
    sample: np.ndarray | None = None  # a small reference sample (baseline only; not merged)
    sums: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.invalid

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count)) if self.count > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "counts": self.counts.tolist(),
            "count": self.count,
            "missing": self.missing,
            "invalid": self.invalid,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.minimum,
            "max": self.maximum,
            "invalid_examples": self.invalid_examples,
        }
        if self.sums is not None:
            out["sums"] = self.sums.tolist()
        if self.sample is not None:
            out["sample"] = self.sample.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericProfile:
        sample = data.get("sample")
        return cls(
            counts=np.asarray(data["counts"], dtype=np.int64),
            count=int(data["count"]),
            missing=int(data["missing"]),
            invalid=int(data.get("invalid", 0)),
            mean=float(data["mean"]),
            m2=float(data["m2"]),
            minimum=None if data.get("min") is None else float(data["min"]),
            maximum=None if data.get("max") is None else float(data["max"]),
            invalid_examples=list(data.get("invalid_examples", [])),
            sample=None if sample is None else np.asarray(sample, dtype=float),
            sums=None if data.get("sums") is None else np.asarray(data["sums"], dtype=float),
        )


@dataclass
class CategoricalProfile:
    """Counts of the vocabulary's categories, of unseen categories by name (the
    lexicographically first ``NEW_CATEGORY_CAP``; the rest in ``other``), and missing values."""

    counts: dict[str, int]
    new: dict[str, int] = field(default_factory=dict)
    other: int = 0
    missing: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + sum(self.new.values()) + self.other

    @property
    def rows(self) -> int:
        return self.count + self.missing

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "new": self.new, "other": self.other, "missing": self.missing}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalProfile:
        return cls(
            counts={str(k): int(v) for k, v in data["counts"].items()},
            new={str(k): int(v) for k, v in data.get("new", {}).items()},
            other=int(data.get("other", 0)),
            missing=int(data.get("missing", 0)),
        )


ColumnProfile = Union[NumericProfile, CategoricalProfile]


@dataclass
class DatasetProfile:
    """Profiles of every schema column of one dataset, plus optional test metrics."""

    schema: dict[str, ColumnSchema]
    columns: dict[str, ColumnProfile]
    rows: int
    absent: list[str] = field(default_factory=list)  # schema columns missing from the data
    unexpected: list[str] = field(default_factory=list)  # data columns not in the schema
    metrics: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def names(self, role: Role = "feature") -> list[str]:
        return [name for name, col in self.schema.items() if col.role == role]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "schema": [col.to_dict() for col in self.schema.values()],
            "columns": {name: prof.to_dict() for name, prof in self.columns.items()},
            "absent": self.absent,
            "unexpected": self.unexpected,
            "metrics": self.metrics,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        schema = {c["name"]: ColumnSchema.from_dict(c) for c in data["schema"]}
        columns: dict[str, ColumnProfile] = {}
        for name, prof in data["columns"].items():
            kind = schema[name].kind
            columns[name] = (
                NumericProfile.from_dict(prof) if kind == "numeric" else CategoricalProfile.from_dict(prof)
            )
        return cls(
            schema=schema,
            columns=columns,
            rows=int(data["rows"]),
            absent=list(data.get("absent", [])),
            unexpected=list(data.get("unexpected", [])),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            meta=dict(data.get("meta", {})),
        )


def numeric_profile(
    values: np.ndarray,
    missing: int,
    invalid: int,
    edges: tuple[float, ...],
    *,
    examples: list[str] | None = None,
    sample: int = 0,
    keys: np.ndarray | None = None,
) -> NumericProfile:
    """The profile of float ``values`` (NaN where missing or invalid). With ``sample``, keeps
    the finite values with the ``sample`` smallest random ``keys`` (one per finite value): a
    uniform sample that chunked profiling reproduces when the keys come from one stream."""
    finite = values[~np.isnan(values)]
    count = len(finite)
    mean = float(finite.mean()) if count else 0.0
    m2 = float(np.square(finite - mean).sum()) if count else 0.0
    kept = None
    if sample and count and keys is not None:
        kept = np.sort(finite[smallest(keys, sample)])
    counts, sums = histogram_sums(finite, edges)
    return NumericProfile(
        counts=counts,
        count=count,
        missing=missing,
        invalid=invalid,
        mean=mean,
        m2=m2,
        minimum=float(finite.min()) if count else None,
        maximum=float(finite.max()) if count else None,
        invalid_examples=list(examples or []),
        sample=kept,
        sums=sums,
    )


def smallest(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest keys, in key order (all of them when fewer)."""
    if len(keys) > k:
        chosen = np.argpartition(keys, k - 1)[:k]
    else:
        chosen = np.arange(len(keys))
    return chosen[np.argsort(keys[chosen], kind="stable")]


def categorical_profile(observed: dict[str, int], rows: int, categories: tuple[str, ...]) -> CategoricalProfile:
    """The profile of ``rows`` values with ``observed`` counts per category (the rest missing)."""
    observed = {k: v for k, v in observed.items() if v > 0}
    missing = int(rows - sum(observed.values()))
    known = set(categories)
    counts = {c: observed.get(c, 0) for c in categories}
    unseen = {k: v for k, v in observed.items() if k not in known}
    new, other = cap_new(unseen)
    return CategoricalProfile(counts=counts, new=new, other=other, missing=missing)


def cap_new(unseen: dict[str, int]) -> tuple[dict[str, int], int]:
    """Keep the lexicographically first unseen names; the rule commutes with merging."""
    names = sorted(unseen)
    kept = {n: unseen[n] for n in names[:NEW_CATEGORY_CAP]}
    return kept, sum(unseen[n] for n in names[NEW_CATEGORY_CAP:])
