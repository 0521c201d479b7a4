"""The `online:` section: its keys are checked against the rest of the config at load."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from conveyor.core.config.schema import ProjectConfig
from tests.online.conftest import config_dict


def load(online: dict[str, Any], **top: Any) -> ProjectConfig:
    return ProjectConfig(**config_dict(online, **top))


def test_defaults_are_a_guarded_sgd_learner() -> None:
    online = load({}).online
    assert online.learner == "sgd" and online.guards.outlier_z == 6.0 and online.drift.detector == "adwin"
    assert online.update == "minibatch"


@pytest.mark.parametrize("online, message", [
    ({"learner": "forest"}, "not one of sgd"),
    ({"learner": "learn.py"}, "not one of sgd"),
    ({"guards": {"outlier_exclude": ["plan"]}}, "not numeric features"),
    ({"drift": {"features": ["nope"]}}, "not numeric features"),
    ({"classes": [1]}, "at least two distinct classes"),
    ({"guards": {"target_range": [0, 1]}}, "for regression"),
    ({"guards": {"max_source_share": 1.5}}, "less than or equal to 1"),
    ({"checkpoint": {"every": 3}}, "Extra inputs are not permitted"),
    ({"unlabelled": "drop"}, "'wait' or 'dead_letter'"),
    ({"update": "per_sample"}, "'minibatch' or 'per_row'"),
    ({"learner": "naive_bayes", "update": "per_row"}, "applies to the sgd and passive_aggressive"),
])
def test_wrong_online_settings_are_refused(online: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load(online)


def test_a_user_learner_is_an_entrypoint() -> None:
    assert load({"learner": "learn.py:make_learner"}).online.learner == "learn.py:make_learner"


def test_regression_takes_a_target_range_and_no_classes() -> None:
    config = load({"classes": None, "guards": {"target_range": [0, 100]}}, task="regression")
    assert config.online.guards.target_range == (0.0, 100.0)
    with pytest.raises(ValidationError, match="is empty"):
        load({"classes": None, "guards": {"target_range": [5, 1]}}, task="regression")
