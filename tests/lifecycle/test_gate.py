"""Quality gate verdicts: thresholds, fairness limits, champion comparison."""

from conveyor.core.config.schema import GateSpec
from conveyor.lifecycle.gate import Champion, evaluate_gate


def spec(**kwargs: object) -> GateSpec:
    return GateSpec.model_validate(kwargs)


def test_thresholds_pass_and_fail() -> None:
    gate = spec(metrics={"roc_auc": ">= 0.8", "rmse": "< 2"})
    assert evaluate_gate(gate, {"roc_auc": 0.85, "rmse": 1.0}).passed
    verdict = evaluate_gate(gate, {"roc_auc": 0.75, "rmse": 1.0})
    assert verdict.status == "failed"
    assert verdict.reasons == ["roc_auc = 0.7500 fails >= 0.8"]


def test_metric_not_computed_fails() -> None:
    verdict = evaluate_gate(spec(metrics={"roc_auc": ">= 0.8"}), {"accuracy": 0.9})
    assert not verdict.passed
    assert "not computed" in verdict.reasons[0]


def test_champion_margin_respects_direction() -> None:
    gate = spec(champion={"stage": "prod", "max_drop": 0.01})
    champ = Champion("prod", "3", metrics={"roc_auc": 0.85, "rmse": 1.0})
    assert evaluate_gate(gate, {"roc_auc": 0.845}, champion=champ, champion_metrics=["roc_auc"]).passed
    worse = evaluate_gate(gate, {"roc_auc": 0.83}, champion=champ, champion_metrics=["roc_auc"])
    assert not worse.passed and "champion prod v3" in worse.reasons[0]
    # Lower is better for rmse: a higher error beyond the margin fails.
    assert not evaluate_gate(gate, {"rmse": 1.2}, champion=champ, champion_metrics=["rmse"]).passed
    assert evaluate_gate(gate, {"rmse": 0.9}, champion=champ, champion_metrics=["rmse"]).passed


def test_unscorable_champion_is_noted_not_blocking() -> None:
    gate = spec(champion={"stage": "prod"})
    champ = Champion("prod", "1", error="KeyError: 'old_feature'")
    verdict = evaluate_gate(gate, {"roc_auc": 0.9}, champion=champ, champion_metrics=["roc_auc"])
    assert verdict.passed
    assert "not compared" in verdict.checks[-1].detail


def test_fairness_thresholds_per_sensitive_column() -> None:
    gate = spec(fairness={"demographic_parity_difference": "<= 0.1"})
    fair = {"gender": {"demographic_parity_difference": 0.05}, "age": {"demographic_parity_difference": 0.2}}
    verdict = evaluate_gate(gate, {}, fairness=fair)
    assert verdict.reasons == ["fairness.age.demographic_parity_difference = 0.2000 fails <= 0.1"]


def test_each_check_carries_its_metric_threshold_and_value_as_the_version_stores_them() -> None:
    import json

    from conveyor.core import tags
    from conveyor.lifecycle.gate import verdict_tags

    gate = spec(metrics={"roc_auc": ">= 0.8", "f1": ">= 0.5"}, fairness={"demographic_parity_difference": "<= 0.1"},
                champion={"stage": "prod", "max_drop": 0.01})
    champ = Champion("prod", "3", metrics={"roc_auc": 0.85})
    verdict = evaluate_gate(gate, {"roc_auc": 0.83}, champion=champ, champion_metrics=["roc_auc"],
                            fairness={"gender": {"demographic_parity_difference": 0.05}})
    rows = {c.name: (c.metric, c.threshold, c.value, c.passed) for c in verdict.checks}
    assert rows == {
        "roc_auc": ("roc_auc", ">= 0.8", 0.83, True),
        "f1": ("f1", ">= 0.5", None, False),  # not computed: no value
        "fairness.gender.demographic_parity_difference": (
            "fairness.gender.demographic_parity_difference", "<= 0.1", 0.05, True),
        "champion.roc_auc": ("roc_auc", "drop <= 0.01 vs champion prod v3 (0.8500)", 0.83, False),
    }
    stored = verdict_tags(verdict)
    assert stored[tags.GATE] == "failed"
    assert json.loads(stored[tags.GATE_CHECKS]) == [c.detail for c in verdict.checks]
    assert json.loads(stored[tags.GATE_TABLE]) == [c.to_dict() for c in verdict.checks]
