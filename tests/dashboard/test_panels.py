"""What the panels make of stored tags, without a server: the gate's checks of versions
gated before and after the checks were stored structured."""

from __future__ import annotations

import json

from conveyor.core import tags
from conveyor.dashboard.panels import gate_checks


def test_a_version_gated_with_the_table_shows_metric_threshold_and_value():
    table = [{"name": "roc_auc", "metric": "roc_auc", "threshold": ">= 0.8", "value": 0.91, "passed": True,
              "detail": "roc_auc = 0.9100 meets >= 0.8"},
             {"name": "f1", "metric": "f1", "threshold": ">= 0.9", "value": 0.7, "passed": False,
              "detail": "f1 = 0.7000 fails >= 0.9"}]
    checks = gate_checks({tags.GATE_TABLE: json.dumps(table), tags.GATE_CHECKS: "[]"}, [])
    assert [(c["check"], c["metric"], c["threshold"], c["value"], c["passed"]) for c in checks] == [
        ("roc_auc", "roc_auc", ">= 0.8", 0.91, True), ("f1", "f1", ">= 0.9", 0.7, False)]


def test_a_version_gated_before_the_table_still_shows_its_checks_texts():
    texts = ["roc_auc = 0.9100 meets >= 0.8", "f1 = 0.7000 fails >= 0.9"]
    checks = gate_checks({tags.GATE_CHECKS: json.dumps(texts)}, [texts[1]])
    assert [(c["check"], c["passed"], c["metric"], c["threshold"], c["value"]) for c in checks] == [
        (texts[0], True, None, None, None), (texts[1], False, None, None, None)]


def test_a_version_with_no_or_unreadable_gate_tags_shows_no_checks():
    assert gate_checks({}, []) == []
    assert gate_checks({tags.GATE_TABLE: "not json", tags.GATE_CHECKS: "{"}, []) == []
