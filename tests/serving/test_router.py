from __future__ import annotations

from collections import Counter

import pytest

from conveyor.core.errors import NoRoute
from conveyor.serving.router import Router


def test_weighted_random_follows_the_weights() -> None:
    router = Router({"prod": 90, "staging": 10}, seed=42)
    counts = Counter(router.choose() for _ in range(20_000))
    share = counts["staging"] / 20_000
    # binomial sd = sqrt(.1*.9/20000) ~ 0.0021: 5 sd either side
    assert 0.0895 < share < 0.1105


def test_zero_weight_gets_no_traffic() -> None:
    router = Router({"prod": 100, "staging": 0}, seed=1)
    assert {router.choose() for _ in range(500)} == {"prod"}


def test_sticky_key_always_lands_on_the_same_deployment() -> None:
    router = Router({"prod": 50, "staging": 50})
    for key in (f"user-{i}" for i in range(200)):
        first = router.choose(key)
        assert all(router.choose(key) == first for _ in range(5))


def test_sticky_split_follows_the_weights() -> None:
    router = Router({"prod": 80, "staging": 20})
    counts = Counter(router.choose(f"user-{i}") for i in range(20_000))
    assert 0.185 < counts["staging"] / 20_000 < 0.215


def test_weight_change_moves_few_keys() -> None:
    keys = [f"user-{i}" for i in range(10_000)]
    before = Router({"prod": 90, "staging": 10})
    after = Router({"prod": 80, "staging": 20})
    moved = [k for k in keys if before.choose(k) != after.choose(k)]
    # the minimum is ~10% of keys (staging's share grows by 10 points); only prod→staging moves
    assert len(moved) / len(keys) < 0.12
    assert all(before.choose(k) == "prod" and after.choose(k) == "staging" for k in moved)


def test_adding_a_deployment_only_takes_keys_for_itself() -> None:
    keys = [f"user-{i}" for i in range(5_000)]
    before = Router({"prod": 90, "staging": 10})
    after = Router({"prod": 90, "staging": 10, "v7": 10})
    for key in keys:
        if before.choose(key) != after.choose(key):
            assert after.choose(key) == "v7"


def test_no_ready_deployment() -> None:
    with pytest.raises(NoRoute):
        Router({}).choose()
