import numpy as np
import pandas as pd

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
