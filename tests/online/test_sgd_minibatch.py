"""The mini-batch SGD step equals the gradient step computed by hand, and on a batch of one
row it is the per-row update itself (every loss and gradient rate)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier, SGDRegressor

from conveyor.online.sgd_minibatch import covers, minibatch_update
from conveyor.online.sgd_update import rule_of, sgd_update
from tests.online.test_sgd_update import CLASSIFIERS, REGRESSORS, _stream

X = np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]])


def _fitted(estimator: SGDClassifier | SGDRegressor, y: np.ndarray, **extra: object) -> SGDClassifier | SGDRegressor:
    estimator.partial_fit(X, y, **extra)
    return estimator


def test_log_loss_step_is_the_hand_computed_gradient_step() -> None:
    eta, alpha = 0.1, 0.01
    model = _fitted(SGDClassifier(loss="log_loss", learning_rate="constant", eta0=eta, alpha=alpha,
                                  shuffle=False, random_state=0), np.array([0, 1, 1]), classes=[0, 1])
    model.coef_ = np.array([[0.3, -0.2]])
    model.intercept_ = np.array([0.1])
    t = model.t_
    y = np.array([1.0, 0.0, 1.0])
    rule = rule_of(model)
    assert rule is not None and covers(rule)
    minibatch_update(model, rule, X, y.astype(int))
    # by hand: every row's gradient at the starting weights; each row's L2 decay (1 - eta*alpha)
    # shrinks the weights and the steps of the rows before it; the intercept is not decayed
    p = X @ np.array([0.3, -0.2]) + 0.1
    g = 1.0 / (1.0 + np.exp(-p)) - y
    d = 1.0 - eta * alpha
    w = d**3 * np.array([0.3, -0.2]) - eta * (d**2 * g[0] * X[0] + d * g[1] * X[1] + g[2] * X[2])
    np.testing.assert_allclose(model.coef_, [w], rtol=1e-12)
    np.testing.assert_allclose(model.intercept_, [0.1 - eta * g.sum()], rtol=1e-12)
    assert model.t_ == t + 3


def test_squared_error_step_uses_each_rows_own_learning_rate() -> None:
    eta0, power_t = 0.05, 0.25
    model = _fitted(SGDRegressor(loss="squared_error", learning_rate="invscaling", eta0=eta0, power_t=power_t,
                                 penalty=None, shuffle=False, random_state=0), np.array([1.0, 2.0, 3.0]))
    model.coef_ = np.array([0.5, 0.25])
    model.intercept_ = np.array([-1.0])
    t = model.t_
    y = np.array([2.0, -1.0, 0.5])
    rule = rule_of(model)
    assert rule is not None
    minibatch_update(model, rule, X, y)
    p = X @ np.array([0.5, 0.25]) - 1.0
    etas = eta0 / (t + np.arange(3)) ** power_t
    steps = -etas * (p - y)
    np.testing.assert_allclose(model.coef_, np.array([0.5, 0.25]) + steps @ X, rtol=1e-12)
    np.testing.assert_allclose(model.intercept_, [-1.0 + steps.sum()], rtol=1e-12)


def test_a_three_class_hinge_step_moves_each_one_vs_rest_problem() -> None:
    eta = 0.2
    model = _fitted(SGDClassifier(loss="hinge", learning_rate="constant", eta0=eta, penalty=None,
                                  shuffle=False, random_state=0), np.array([0, 1, 2]), classes=[0, 1, 2])
    start = np.array([[0.1, 0.2], [-0.3, 0.1], [0.0, -0.1]])
    model.coef_, model.intercept_ = start.copy(), np.zeros(3)
    y = np.array([2, 0, 1])
    rule = rule_of(model)
    assert rule is not None
    minibatch_update(model, rule, X, y)
    signed = np.where(y[:, None] == np.arange(3)[None, :], 1.0, -1.0)
    margins = (X @ start.T) * signed
    steps = eta * np.where(margins <= 1.0, signed, 0.0)  # -eta * dloss, dloss = -y where y*p <= 1
    np.testing.assert_allclose(model.coef_, start + steps.T @ X, rtol=1e-12)
    np.testing.assert_allclose(model.intercept_, steps.sum(axis=0), rtol=1e-12)


GRADIENT_RATES = [p for p in CLASSIFIERS + REGRESSORS if p.get("learning_rate") not in ("pa1", "pa2")]


@pytest.mark.parametrize("params", GRADIENT_RATES, ids=lambda p: f"{p['loss']}-{p.get('learning_rate', 'invscaling')}")
def test_on_one_row_the_step_is_the_per_row_update(params: dict) -> None:
    regression = params["loss"] in ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
    stream = _stream("regression" if regression else "classification", 2 if regression else 3)
    make = SGDRegressor if regression else SGDClassifier
    per_row, batch = (make(shuffle=False, random_state=0, **params) for _ in range(2))
    extra = {} if regression else {"classes": [0, 1, 2]}
    for model in (per_row, batch):
        model.partial_fit(*stream[0], **extra)
    rule = rule_of(batch)
    assert rule is not None and covers(rule)
    for X_, y in stream[1:4]:
        for i in range(len(X_)):
            sgd_update(per_row, rule, X_[i:i + 1], y[i:i + 1])
            minibatch_update(batch, rule, X_[i:i + 1], y[i:i + 1])
    np.testing.assert_allclose(batch.coef_, per_row.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(batch.intercept_, per_row.intercept_, rtol=1e-9, atol=1e-12)
    assert batch.t_ == per_row.t_


def test_the_passive_aggressive_rates_keep_the_per_row_update() -> None:
    model = SGDClassifier(loss="hinge", learning_rate="pa1", eta0=1.0, penalty=None)
    model.partial_fit(X, np.array([0, 1, 1]), classes=[0, 1])
    rule = rule_of(model)
    assert rule is not None and not covers(rule)


def test_spans_cut_where_the_running_budget_passes_each_multiple_of_the_limit() -> None:
    from conveyor.online.sgd_minibatch import spans

    assert spans(np.full(10, 0.5), limit=16.0) == [(0, 10)]
    assert spans(np.full(10, 1.0), limit=4.0) == [(0, 3), (3, 7), (7, 10)]  # running sums 1..10
    # running sums 5, 5.1, 5.2, 14.2: a span sums to less than the limit plus its first row's budget
    assert spans(np.array([5.0, 0.1, 0.1, 9.0]), limit=4.0) == [(0, 3), (3, 4)]


def _classifier(eta0: float) -> SGDClassifier:
    stream = _stream("classification", 2)
    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=eta0, shuffle=False, random_state=0)
    model.partial_fit(*stream[0], classes=[0, 1])
    return model


def test_a_large_rate_takes_one_step_per_span_and_a_huge_one_the_per_row_update() -> None:
    from conveyor.online.sgd_minibatch import CURVATURE, STEP_BUDGET, spans

    X_, y = _stream("classification", 2)[1]
    eta0 = 2.5 * STEP_BUDGET / (CURVATURE["log_loss"] * float(np.einsum("ij,ij->i", X_, X_).sum()))
    cut = spans(eta0 * CURVATURE["log_loss"] * np.einsum("ij,ij->i", X_, X_))
    assert len(cut) == 3  # about 2.5 budgets: three spans of ~21 rows
    whole, by_span = _classifier(eta0), _classifier(eta0)
    rule = rule_of(whole)
    assert rule is not None
    minibatch_update(whole, rule, X_, y)
    eta = np.full(len(y), eta0)
    for start, stop in cut:  # one gradient step per span, each at the weights the span starts from
        p = X_[start:stop] @ by_span.coef_[0] + by_span.intercept_[0]
        steps = -eta[start:stop] * (1.0 / (1.0 + np.exp(-p)) - y[start:stop])
        decays = np.full(stop - start, 1.0 - eta0 * by_span.alpha)
        after = decays ** np.arange(stop - start - 1, -1, -1)  # the decays of the span's later rows
        by_span.coef_[0] = by_span.coef_[0] * decays.prod() + (steps * after) @ X_[start:stop]
        by_span.intercept_[0] += steps.sum()
    np.testing.assert_allclose(whole.coef_, by_span.coef_, rtol=1e-12)
    np.testing.assert_allclose(whole.intercept_, by_span.intercept_, rtol=1e-12)
    huge, per_row = _classifier(50.0), _classifier(50.0)
    minibatch_update(huge, rule_of(huge), X_, y)  # type: ignore[arg-type]
    sgd_update(per_row, rule_of(per_row), X_, y)  # type: ignore[arg-type]
    np.testing.assert_allclose(huge.coef_, per_row.coef_, rtol=1e-12)
