"""Merge profiles made with the same schema: associative, so partitions can be profiled
anywhere (a batch job, a Spark executor, a day of captured traffic) and combined later."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import reduce

from conveyor.core.errors import ProfileMismatchError
from conveyor.profiles.profile import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    cap_new,
)


def merge(left: DatasetProfile, right: DatasetProfile) -> DatasetProfile:
    """The profile of the union of the two datasets (test metrics and samples are dropped)."""
    if left.schema != right.schema:
        raise ProfileMismatchError(
            "cannot merge profiles made with different schemas (edges or vocabularies differ)",
            hint="profile every partition with the same fitted Profiler (the baseline's schema)",
        )
    columns: dict[str, ColumnProfile] = {}
    for name in left.schema:
        a, b = left.columns.get(name), right.columns.get(name)
        if a is None or b is None:
            present = a if b is None else b
            if present is not None:
                columns[name] = present
            continue
        columns[name] = merge_columns(a, b)
    absent = [n for n in left.schema if n not in columns]
    unexpected = sorted(set(left.unexpected) | set(right.unexpected))
    return DatasetProfile(
        schema=dict(left.schema), columns=columns, rows=left.rows + right.rows, absent=absent,
        unexpected=unexpected,
    )


def merge_all(profiles: Iterable[DatasetProfile]) -> DatasetProfile:
    """Merge any number of profiles (at least one)."""
    items = list(profiles)
    if not items:
        raise ProfileMismatchError("no profiles to merge")
    return reduce(merge, items)


def merge_columns(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        return _merge_numeric(a, b)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        return _merge_categorical(a, b)
    raise ProfileMismatchError("cannot merge a numeric column profile with a categorical one")


def _merge_numeric(a: NumericProfile, b: NumericProfile) -> NumericProfile:
    if a.counts.shape != b.counts.shape:
        raise ProfileMismatchError("cannot merge histograms with different edges")
    n = a.count + b.count
    if a.count == 0 or b.count == 0:
        source = a if b.count == 0 else b
        mean, m2 = source.mean, source.m2
    else:  # Chan et al.: pairwise update of mean and sum of squared deviations
        delta = b.mean - a.mean
        mean = a.mean + delta * b.count / n
        m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / n
    return NumericProfile(
        counts=a.counts + b.counts,
        count=n,
        missing=a.missing + b.missing,
        invalid=a.invalid + b.invalid,
        mean=mean,
        m2=m2,
        minimum=_pick(min, a.minimum, b.minimum),
        maximum=_pick(max, a.maximum, b.maximum),
        invalid_examples=list(dict.fromkeys([*a.invalid_examples, *b.invalid_examples]))[:3],
        sums=None if a.sums is None or b.sums is None else a.sums + b.sums,
    )


def _merge_categorical(a: CategoricalProfile, b: CategoricalProfile) -> CategoricalProfile:
    if a.counts.keys() != b.counts.keys():
        raise ProfileMismatchError("cannot merge category counts with different vocabularies")
    counts = {k: a.counts[k] + b.counts[k] for k in a.counts}
    unseen = dict(a.new)
    for key, value in b.new.items():
        unseen[key] = unseen.get(key, 0) + value
    new, folded = cap_new(unseen)
    return CategoricalProfile(
        counts=counts, new=new, other=a.other + b.other + folded, missing=a.missing + b.missing
    )


def _pick(function: Callable[[float, float], float], x: float | None, y: float | None) -> float | None:
    if x is None:
        return y
    if y is None:
        return x
    return function(x, y)
