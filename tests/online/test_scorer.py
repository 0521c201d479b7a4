"""A checkpoint's learner behind the Scorer contract (the same check every scorer passes),
and the rows it cannot take refused by row and field, as an estimator without an imputer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conveyor.core.config.schema import ProjectConfig
from conveyor.core.errors import RefusedRows
from conveyor.online import make_learner
from conveyor.scoring import InputField, InputSchema, OnlineScorer, RegisteredVersion
from tests.scoring.conftest import CATEGORICAL, NUMERIC
from tests.scoring.test_contract import check_scorer


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(50, 20, n) for name in NUMERIC})
    frame["plan"] = rng.choice(["basic", "standard", "premium"], n)
    frame["region"] = rng.choice(["north", "south"], n)
    frame["payment_method"] = rng.choice(["card", "transfer"], n)
    frame["churned"] = ((frame["tenure_months"] < 45) | (frame["plan"] == "basic")).astype(int)
    return frame


@pytest.fixture(scope="module")
def scorer() -> OnlineScorer:
    config = ProjectConfig(
        name="churn", task="classification", target="churned", data={"train": "x.csv"},
        features={"numeric": NUMERIC, "categorical": CATEGORICAL}, train={"entrypoint": "train.py:train"},
        online={"classes": [0, 1]},
    )
    learner = make_learner(config, Path("."), [0, 1])
    train = _frame(2000, 1)
    for start in range(0, 2000, 250):
        part = train.iloc[start:start + 250]
        learner.learn({n: part[n].to_numpy() for n in config.features.inputs}, part["churned"].to_numpy())
    schema = InputSchema(tuple([InputField(n, "double") for n in NUMERIC] + [InputField(n, "string") for n in CATEGORICAL]))
    return OnlineScorer(learner, schema, RegisteredVersion("churn", "7"))


def test_an_online_learner_meets_the_scorer_contract(scorer: OnlineScorer) -> None:
    frame = _frame(300, 2)
    check_scorer(scorer, frame)
    assert scorer.describe() == "online learner (sgd (SGDClassifier, classification))"
    assert (scorer.predict(frame).labels == frame["churned"]).mean() > 0.8


def test_rows_it_cannot_take_are_refused_by_row_and_field(scorer: OnlineScorer) -> None:
    frame = _frame(5, 3)
    columns = {n: frame[n].tolist() for n in [*NUMERIC, *CATEGORICAL]}
    columns["support_calls"][1] = None
    columns["plan"][3] = None
    with pytest.raises(RefusedRows) as refused:
        scorer.predict(columns)
    assert [(r.row, r.field) for r in refused.value.refusals] == [(1, "support_calls"), (3, "plan")]
