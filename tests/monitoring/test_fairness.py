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


@pytest.mark.parametrize("groups_of", [["f", "m"], ["north", "south", "east"]])
def test_classification_fairness_equals_fairlearn(groups_of):
    """Selection rates, demographic parity difference and ratio, equalized odds difference —
    in monitoring and in the training gate — as fairlearn computes them."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        selection_rate,
    )

    from conveyor.lifecycle.metrics import fairness_metrics

    rng = np.random.default_rng(len(groups_of))
    rows = 4000
    sensitive = pd.Series(rng.choice(groups_of, rows), name="group")
    y = pd.Series(rng.integers(0, 2, rows))
    bias = sensitive.map({g: 0.2 + 0.15 * i for i, g in enumerate(groups_of)}).to_numpy()
    predictions = (rng.random(rows) < bias).astype(int)
    limits = {"demographic_parity_difference": Condition.parse("<= 0.1"),
              "equalized_odds_difference": Condition.parse("<= 0.5")}

    result = evaluate_fairness(predictions, sensitive.to_frame(), limits, y)
    values = result.columns["group"]
    rates = MetricFrame(metrics=selection_rate, y_true=y, y_pred=predictions, sensitive_features=sensitive).by_group
    assert values["selection_rate"] == pytest.approx({str(k): v for k, v in rates.items()}, abs=1e-12)
    theirs = {
        "demographic_parity_difference": demographic_parity_difference(y, predictions, sensitive_features=sensitive),
        "demographic_parity_ratio": demographic_parity_ratio(y, predictions, sensitive_features=sensitive),
        "equalized_odds_difference": equalized_odds_difference(y, predictions, sensitive_features=sensitive),
    }
    for name, value in theirs.items():
        assert values[name] == pytest.approx(value, abs=1e-12), name
    gate = fairness_metrics(y, predictions, sensitive.to_frame())["group"]
    for name in ("demographic_parity_difference", "equalized_odds_difference"):
        assert gate[name] == pytest.approx(theirs[name], abs=1e-12), name
    # the verdicts follow: parity is violated (0.15 apart per step), equalized odds within 0.5
    assert result.violated and any("demographic_parity_difference" in v for v in result.violations)
    assert not any("equalized_odds_difference" in v for v in result.violations)
