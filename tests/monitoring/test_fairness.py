import numpy as np
import pandas as pd
import pytest

from conveyor.core.config.thresholds import Condition
from conveyor.monitoring.fairness import evaluate_fairness

LIMIT = {"demographic_parity_difference": Condition.parse("<= 0.1")}


def test_selection_rates_and_a_violation_per_sensitive_attribute():
    rng = np.random.default_rng(0)
    groups = pd.DataFrame({"gender": rng.choice(["f", "m"], 2000)})
    predictions = np.where(groups["gender"] == "f", rng.random(2000) < 0.5, rng.random(2000) < 0.2).astype(int)
    y = pd.Series(rng.integers(0, 2, 2000))
    result = evaluate_fairness(predictions, groups, LIMIT, y)
    values = result.columns["gender"]
    assert values["selection_rate"]["f"] > values["selection_rate"]["m"] + 0.2
    assert 0.2 < values["demographic_parity_difference"] < 0.4
    assert "equalized_odds_difference" in values
    assert result.violated and "gender: demographic_parity_difference" in result.violations[0]


def test_fair_predictions_pass_and_no_labels_skip_equalized_odds():
    rng = np.random.default_rng(1)
    groups = pd.DataFrame({"gender": rng.choice(["f", "m"], 2000)})
    result = evaluate_fairness((rng.random(2000) < 0.3).astype(int), groups, LIMIT)
    assert result.violated is False
    assert "equalized_odds_difference" not in result.columns["gender"]
    assert any("no labels" in m for m in result.messages)


def _groups(rows, seed):
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], rows).astype(object)
    region[rng.random(rows) < 0.05] = None
    return rng, pd.DataFrame({
        "region": region,
        "age_band": pd.Series(rng.integers(1, 5, rows)),
        "segment": pd.Categorical(rng.choice(["a", "b"], rows)),
    })


def test_classification_fairness_equals_the_group_by_definitions():
    from conveyor.lifecycle.metrics import fairness_metrics

    rng, groups = _groups(5000, 2)
    y = pd.Series(rng.integers(0, 2, len(groups)))
    predictions = np.where(groups["region"] == "north", rng.random(len(groups)) < 0.6,
                           rng.random(len(groups)) < 0.3).astype(int)
    result = evaluate_fairness(predictions, groups, LIMIT, y)
    expected = fairness_metrics(y, predictions, groups)
    for column in groups.columns:
        keyed = groups[column].astype("object").fillna("<missing>")
        rates = pd.Series(predictions == 1).groupby(keyed.to_numpy()).mean()
        values = result.columns[column]
        assert values["selection_rate"] == pytest.approx({str(k): v for k, v in rates.items()}, abs=1e-12)
        for name, value in expected[column].items():
            assert values[name] == pytest.approx(value, abs=1e-12), (column, name)


def test_regression_fairness_equals_the_group_by_definitions():
    from conveyor.lifecycle.metrics import regression_fairness_metrics

    rng, groups = _groups(5000, 3)
    y = pd.Series(rng.normal(100, 10, len(groups)))
    predictions = y.to_numpy() + rng.normal(0, 3, len(groups))
    result = evaluate_fairness(predictions, groups, {}, y, task="regression")
    expected = regression_fairness_metrics(y, predictions, groups)
    for column in groups.columns:
        assert result.columns[column] == pytest.approx(expected[column], abs=1e-12)
