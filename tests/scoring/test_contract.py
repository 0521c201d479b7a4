"""The Scorer contract, checked on every implementation (logged plan, compiled plan,
estimator, pyfunc): one prediction per row under the one rule, the same answer from column
lists and from a DataFrame, and the same answer after packing for a batch worker."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.scoring import (
    CompiledScorer,
    EstimatorScorer,
    PlanScorer,
    PyfuncScorer,
    Scorer,
    load_version,
    pack,
    scores_of,
    unpack,
)
from tests.scoring.conftest import FEATURES, Registered

IMPLEMENTATIONS = {
    "plan": PlanScorer, "compiled": CompiledScorer, "svc": EstimatorScorer, "multiclass": EstimatorScorer,
    "regressor": EstimatorScorer, "pyfunc": PyfuncScorer,
}


def check_scorer(scorer: Scorer, frame: pd.DataFrame) -> None:
    """What every Scorer must do (an online learner will pass the same check)."""
    assert isinstance(scorer, Scorer) and scorer.flavor
    assert scorer.schema.names == FEATURES
    columns = {n: [None if isinstance(v, float) and v != v else v for v in frame[n].tolist()] for n in FEATURES}
    from_columns, from_frame = scorer.predict(columns), scorer.predict(frame[FEATURES])
    assert len(from_columns) == len(frame) and from_columns.labels.ndim == 1
    assert from_columns.labels.tolist() == from_frame.labels.tolist()
    if scorer.classes is None:
        assert scorer.output_kind == "values"
        assert from_columns.proba is None and from_columns.scores is None and from_columns.classes is None
    else:
        assert scorer.output_kind == "classifier"
        proba = from_columns.proba
        assert proba is not None and proba.shape == (len(frame), len(scorer.classes))
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert list(from_columns.classes) == list(scorer.classes)
        assert set(from_columns.labels.tolist()) <= set(scorer.classes.tolist())
        assert np.array_equal(from_columns.scores, scores_of(proba))
        assert np.array_equal(from_frame.proba, proba)
    for other in (scorer.portable(), unpack(pack(scorer))):  # what batch workers score with
        again = other.predict(frame[FEATURES])
        assert again.labels.tolist() == from_frame.labels.tolist()
        assert (again.proba is None) == (from_frame.proba is None)
        if again.proba is not None:
            assert np.array_equal(again.proba, from_frame.proba)
    scorer.warm()


@pytest.mark.parametrize("kind", list(IMPLEMENTATIONS))
def test_every_implementation_meets_the_contract(kind: str, registered: Registered) -> None:
    project = registered.project
    scorer = load_version(project.client, "churn", registered.versions[kind])
    assert type(scorer) is IMPLEMENTATIONS[kind]
    assert (scorer.name, scorer.version) == ("churn", registered.versions[kind])
    assert scorer.example is not None and list(scorer.example) == FEATURES  # what warm() scores
    frame = pd.read_parquet(registered.path / "data" / "train.parquet").tail(300).reset_index(drop=True)
    check_scorer(scorer, frame)


def test_native_loading_keeps_the_model_object(registered: Registered) -> None:
    project = registered.project
    native = load_version(project.client, "churn", registered.versions["plan"], native=True)
    assert type(native) is EstimatorScorer and type(native.estimator).__name__ == "Pipeline"
    assert native.describe() == "estimator (Pipeline)"


def test_a_plan_scorer_packs_without_its_estimator(registered: Registered) -> None:
    compiled: Any = load_version(registered.project.client, "churn", registered.versions["compiled"])
    assert compiled.estimator is not None
    portable = compiled.portable()
    assert type(portable) is PlanScorer and portable.estimator is None and portable.inline
    assert portable.describe() == compiled.describe() == f"inference plan ({compiled.plan.source})"
