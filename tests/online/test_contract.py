"""The learner contract, checked on every learner: learn a mini-batch, predict one value per
row, probabilities over the declared classes, state to bytes and back (same predictions),
rows counted; and a user's object that breaks the contract is refused with what it lacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conveyor.core.errors import LearnerError
from conveyor.examples.drift_stream import CATEGORICAL, NUMERIC, drift_stream
from conveyor.online import FeatureEncoder, Learner, check_learner, wrap
from conveyor.online.partial_fit import kmeans, naive_bayes, sgd
from conveyor.online.river_adapter import RiverLearner, default_river_model

DATA = drift_stream(1200, drift_at=1200, seed=3)
X = DATA.X
Y = DATA.y


def encoder(mode: str = "standard") -> FeatureEncoder:
    return FeatureEncoder(NUMERIC, CATEGORICAL, 8, mode)  # type: ignore[arg-type]


def regression_target() -> np.ndarray:
    return np.asarray(X["price"]) * 0.01 + np.asarray(X["visits"])


def _learners() -> dict[str, tuple[Learner, np.ndarray | None]]:
    from sklearn.linear_model import SGDClassifier

    made: dict[str, tuple[Learner, np.ndarray | None]] = {
        "sgd-classifier": (sgd("classification", encoder(), [0, 1], {}), Y),
        "sgd-regressor": (sgd("regression", encoder(), None, {}), regression_target()),
        "passive-aggressive": (sgd("classification", encoder(), [0, 1], {}, passive_aggressive=True), Y),
        "passive-aggressive-regressor": (sgd("regression", encoder(), None, {"learning_rate": "pa2"},
                                             passive_aggressive=True), regression_target()),
        "naive-bayes": (naive_bayes(encoder("counts"), [0, 1], {}), Y),
        "kmeans": (kmeans(encoder(), {"n_clusters": 3}), None),
        "user-partial-fit": (wrap(SGDClassifier(loss="modified_huber"), encoder(), "classification", [0, 1],
                                  "test"), Y),
    }
    try:
        made["river"] = (RiverLearner(default_river_model("classification", NUMERIC, CATEGORICAL, {}),
                                      "classification", [0, 1]), Y)
    except LearnerError:
        pass  # River is not installed: the river test below says so
    return made


LEARNERS = _learners()


def _slice(start: int, stop: int) -> dict[str, Any]:
    return {k: v[start:stop] for k, v in X.items()}


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_meets_the_contract(name: str) -> None:
    learner, y = LEARNERS[name]
    check_learner(learner, name)
    first = _slice(0, 10)
    assert len(learner.predict(first)) == 10  # before any update: still one prediction per row
    for start in range(0, 1000, 250):
        learner.learn(_slice(start, start + 250), None if y is None else y[start:start + 250])
    assert learner.n_seen_ == 1000
    rest = _slice(1000, 1200)
    predicted = learner.predict(rest)
    assert predicted.shape == (200,)
    proba = learner.predict_proba(rest)
    classes = learner.classes_
    if proba is not None:
        assert classes is not None and proba.shape == (200, len(classes))
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert set(np.unique(predicted)) <= set(classes.tolist())
    both = learner.predict_with_proba(rest)
    assert np.array_equal(both[0], predicted)
    copy = Learner.from_bytes(learner.to_bytes())
    assert np.array_equal(copy.predict(rest), predicted)
    assert copy.n_seen_ == learner.n_seen_
    if learner.task == "classification":  # it learned something: better than the majority class
        majority = max(np.mean(Y[1000:]), 1 - np.mean(Y[1000:]))
        assert np.mean(predicted == Y[1000:]) > majority


def test_sgd_probabilities_equal_scikit_learns() -> None:
    learner, _ = LEARNERS["sgd-classifier"]
    rest = _slice(1000, 1200)
    matrix = learner.encoder.transform(rest)  # type: ignore[attr-defined]
    assert np.allclose(learner.predict_proba(rest), learner.estimator.predict_proba(matrix))  # type: ignore[attr-defined]
    assert np.array_equal(learner.predict(rest), learner.estimator.predict(matrix))  # type: ignore[attr-defined]


def test_river_is_installed_for_its_adapter() -> None:
    assert "river" in LEARNERS, "River (the `online` extra, also in `test`) is not installed"


class _NoLearn:
    def predict(self, X: Any) -> Any:
        return X


@pytest.mark.parametrize("value, lacking", [(None, "lacks learn"), (_NoLearn(), "lacks learn, predict_proba, to_bytes"),
                                            (object(), "lacks learn, predict")])
def test_an_object_that_breaks_the_contract_is_refused_by_name(value: Any, lacking: str) -> None:
    with pytest.raises(LearnerError, match=lacking):
        wrap(value, encoder(), "classification", [0, 1], "the learner entrypoint learn.py:make")


def test_a_partial_fit_classifier_without_classes_is_refused() -> None:
    from sklearn.linear_model import SGDClassifier

    with pytest.raises(LearnerError, match="online.classes"):
        wrap(SGDClassifier(), encoder(), "classification", None, "learn.py:make")


def test_unseen_categories_share_the_last_slot() -> None:
    enc = FeatureEncoder([], ["c"], max_categories=3)
    enc.update({"c": ["a", "b", "c", "d"]})
    matrix = enc.transform({"c": ["a", "b", "c", "zzz"]})
    assert matrix.shape == (4, 3)
    assert matrix[:, 2].tolist() == [0.0, 0.0, 1.0, 1.0]  # two slots taken, the rest is "other"


def test_the_running_scaler_equals_the_batch_moments() -> None:
    values = np.random.default_rng(0).normal(50, 7, 1000)
    enc = FeatureEncoder(["x"], [])
    for start in range(0, 1000, 137):
        enc.update({"x": values[start:start + 137]})
    assert enc.mean_[0] == pytest.approx(values.mean())
    assert enc.scale_[0] == pytest.approx(values.std())


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_learning_rows_of_the_predicted_batch_equals_learning_them_taken(task: str) -> None:
    from conveyor.online.learner import take_rows

    y = Y if task == "classification" else regression_target()
    classes = [0, 1] if task == "classification" else None
    first, batch = {k: v[:300] for k, v in X.items()}, {k: v[300:600] for k, v in X.items()}
    reused, taken = sgd(task, encoder(), classes, {}), sgd(task, encoder(), classes, {})  # type: ignore[arg-type]
    for learner in (reused, taken):
        learner.learn(first, y[:300])
    rows = np.flatnonzero(np.arange(300) % 3 != 0)  # a third held out
    reused.predict_with_proba(batch)  # the step predicts, then learns the rows it keeps
    reused.learn_rows(batch, rows, y[300:600][rows])
    taken.learn(take_rows(batch, rows), y[300:600][rows])
    assert reused.estimator.t_ == taken.estimator.t_ == 1 + 300 + len(rows)
    np.testing.assert_allclose(reused.estimator.coef_, taken.estimator.coef_, rtol=1e-12)
    np.testing.assert_allclose(reused.encoder.mean_, taken.encoder.mean_, rtol=1e-12)
    assert "_encoded" not in reused.__getstate__()  # the predicted batch does not travel with a checkpoint


def test_the_update_travels_with_the_state_and_an_older_state_resumes_per_row() -> None:
    learner = sgd("classification", encoder(), [0, 1], {}, update="per_row")
    learner.learn(_slice(0, 300), Y[:300])
    assert Learner.from_bytes(learner.to_bytes()).update == "per_row"  # type: ignore[attr-defined]
    older = learner.__getstate__()
    del older["update"]  # a checkpoint from before online.update
    resumed = type(learner).__new__(type(learner))
    resumed.__setstate__(older)
    assert resumed.update == "per_row"
    with pytest.raises(ValueError, match="not one of minibatch, per_row"):
        sgd("classification", encoder(), [0, 1], {}, update="per_sample")
