"""Each guard on its own, vectorised over a batch: schema and types, label sanity, the robust
z-score poison filter, the per-source rate limit (on a clock the test moves) and share cap."""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.online.guards import (
    GuardBatch,
    GuardChain,
    LabelGuard,
    OutlierGuard,
    RateLimitGuard,
    SchemaCheck,
    SourceShareGuard,
)


def batch(n: int, x: Any = None, labels: list[Any] | None = None, sources: list[str] | None = None,
          now: float = 0.0) -> GuardBatch:
    values = np.zeros(n) if x is None else np.asarray(x, dtype=float)
    return GuardBatch({"x": values}, labels if labels is not None else [0] * n, sources or ["a"] * n, now)


def alive(n: int) -> np.ndarray:
    return np.ones(n, dtype=bool)


def test_schema_check_types_every_column_and_names_each_problem() -> None:
    rows = [
        {"x": 1.0, "c": "a"},
        {"x": "1.5", "c": "a"},  # a numeric string is not a number
        {"c": "b"},  # missing
        {"x": True, "c": "a"},  # a boolean is not a number
        {"x": 2, "c": 3},  # a category must be text
        {"x": None, "c": "a"},
        {"x": 1e308 * 10, "c": "a"},  # inf
        {"x": 3, "c": "z"},
    ]
    X, problems = SchemaCheck(["x"], ["c"]).columns(rows)
    assert X["x"].tolist() == [1.0, 3.0] and list(X["c"]) == ["a", "z"]
    assert sorted(problems) == [1, 2, 3, 4, 5, 6]
    assert "must be a number, got str" in problems[1]
    assert problems[2] == "missing column 'x'"
    assert "got bool" in problems[3]
    assert "must be a string, got int" in problems[4]
    assert "null" in problems[5]
    assert "finite" in problems[6]


def test_label_guard_rejects_unknown_classes_and_out_of_range_targets() -> None:
    classes = LabelGuard([0, 1])
    (rejected,) = classes.check(batch(5, labels=[0, 1, 2, None, "1"]), alive(5))
    assert rejected.reason == "unknown_class" and rejected.rows.tolist() == [2, 4]
    assert "label 2 is not one of the classes 0, 1" in rejected.details[0]
    ranged = LabelGuard(None, (0.0, 10.0))
    found = {r.reason: r.rows.tolist() for r in ranged.check(batch(4, labels=[1.0, -3, "x", 11]), alive(4))}
    assert found == {"label_type": [2], "label_out_of_range": [1, 3]}


def test_poison_filter_rejects_extreme_values_once_it_has_a_profile() -> None:
    guard = OutlierGuard(["x"], z=6.0, profile_size=512, min_profile=100)
    chain = GuardChain([guard])
    rng = np.random.default_rng(0)
    warm = rng.normal(100, 5, 100)
    warm[3] = 1e6  # before the profile is complete, the batch itself is the yardstick
    assert np.flatnonzero(~chain.run(batch(100, warm)).alive).tolist() == [3]
    values = rng.normal(100, 5, 50)
    values[[7, 30]] = [1e5, -400]
    verdicts = chain.run(batch(50, values))
    assert np.flatnonzero(~verdicts.alive).tolist() == [7, 30]
    assert verdicts.reasons[7][0] == "outlier" and "robust SDs from the running median" in verdicts.reasons[7][1]
    assert chain.counts["outlier"] == 3  # with the one of the warm-up
    # a shift of the whole distribution slowly moves the profile with it (accepted values only)
    for level in range(100, 200, 10):
        chain.run(batch(100, rng.normal(level, 5, 100)))
    assert chain.run(batch(10, rng.normal(195, 5, 10))).alive.all()


def test_poison_filter_skips_a_constant_column() -> None:
    guard = OutlierGuard(["x"], z=3.0, min_profile=10)
    GuardChain([guard]).run(batch(20, np.ones(20)))
    assert guard.check(batch(2, [1.0, 50.0]), alive(2)) == []


def test_rate_limit_is_a_token_bucket_per_source() -> None:
    guard = RateLimitGuard(rate=10, burst=20)
    flood = ["flood"] * 30 + ["calm"] * 5
    (rejected,) = guard.check(batch(35, sources=flood, now=0.0), alive(35))
    assert rejected.reason == "rate_limited" and rejected.rows.tolist() == list(range(20, 30))
    assert guard.check(batch(5, sources=["flood"] * 5, now=0.5), alive(5)) == []  # 5 tokens came back
    (again,) = guard.check(batch(5, sources=["flood"] * 5, now=0.5), alive(5))
    assert len(again.rows) == 5


def test_share_cap_keeps_one_source_to_its_share_of_recent_updates() -> None:
    guard = SourceShareGuard(max_share=0.2, window=1000)
    chain = GuardChain([guard])
    rng = np.random.default_rng(1)
    honest = [f"s{i}" for i in range(10)]
    taught: dict[str, int] = {}
    for _ in range(40):  # the flooder sends as much as all the others together
        sources = [*rng.choice(honest, 128).tolist(), *["flood"] * 128]
        verdicts = chain.run(batch(256, sources=sources))
        for i in np.flatnonzero(verdicts.alive).tolist():
            taught[sources[i]] = taught.get(sources[i], 0) + 1
    share = taught["flood"] / sum(taught.values())
    assert 0.15 < share <= 0.21
    assert chain.counts["source_share"] > 3000


def test_with_few_sources_each_may_have_an_equal_part() -> None:
    chain = GuardChain([SourceShareGuard(max_share=0.1, window=100)])
    assert chain.run(batch(50, sources=["only"] * 50)).alive.all()  # one source: all of it
