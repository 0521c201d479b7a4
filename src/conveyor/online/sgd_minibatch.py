"""The mini-batch SGD update (``online.update: minibatch``) of a fitted SGDClassifier /
SGDRegressor: one vectorised gradient step per mini-batch on the encoded matrix.

It is the per-row epoch of :mod:`.sgd_update` with every row's prediction taken at the
weights the batch starts from (the gradients of the whole batch at once, instead of one row
after the other): the same loss and gradient (clipped as scikit-learn does), each row's own
learning rate from the estimator's schedule (``constant``, ``optimal``, ``invscaling``, with
``t_`` counting rows as before), the same L2 decay — every row's decay shrinks the weights and
the steps of the rows before it — and the intercept undecayed. So ``eta0`` means the same in
both modes (a batch moves the weights as far as its rows would one by one, to first order),
and the estimator stays the scikit-learn object (``coef_``, ``intercept_``, ``t_`` updated in
place). Per batch: one product for the predictions, one for the step; no Python per row.

The passive-aggressive rates (``pa1``, ``pa2``) are not gradient steps — each row's step
corrects that row's own mistake, and summed over a batch they would overshoot — so they keep
the per-row update (:func:`covers` says which).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from conveyor.online.sgd_update import MAX_DLOSS, SGDRule, etas, signed_targets

VectorGradient = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (y, p) -> dloss/dp, elementwise


def covers(rule: SGDRule) -> bool:
    """Whether the mini-batch step applies (the gradient rates; not ``pa1`` / ``pa2``)."""
    return rule.learning_rate not in ("pa1", "pa2")


def minibatch_update(estimator: object, rule: SGDRule, matrix: np.ndarray, y: np.ndarray) -> None:
    """One gradient step for the batch ``matrix`` (rows × features), ``y``; in place."""
    n = len(matrix)
    if n == 0:
        return
    gradient = vector_gradient(rule.name, rule.epsilon)
    t0 = float(estimator.t_)  # type: ignore[attr-defined]
    eta = etas(rule, t0, n)
    coef: np.ndarray = estimator.coef_  # type: ignore[attr-defined]
    intercept: np.ndarray = estimator.intercept_  # type: ignore[attr-defined]
    weights = coef if coef.ndim == 2 else coef[None, :]  # problems × features (a view: in place)
    targets = signed_targets(estimator, rule, y)  # rows × problems
    predictions = matrix @ weights.T + intercept
    steps = -eta[:, None] * gradient(targets, predictions)  # rows × problems
    if rule.fit_intercept:
        intercept += steps.sum(axis=0)  # the intercept is not decayed
    if rule.decay:
        decays = np.maximum(0.0, 1.0 - eta * rule.alpha)
        # the decay of the rows after row i shrinks row i's step too; all rows' shrink the weights
        after = np.append(np.cumprod(decays[:0:-1])[::-1], 1.0)
        weights *= float(np.prod(decays))
        steps = steps * after[:, None]
    weights += steps.T @ matrix
    estimator.t_ = t0 + n  # type: ignore[attr-defined]


def vector_gradient(name: str, epsilon: float) -> VectorGradient:
    """scikit-learn's ``dloss`` of loss ``name`` over arrays (log loss: y in {0, 1}; the other
    classification losses: y in {-1, +1}), the unbounded ones clipped to ``MAX_DLOSS``."""
    if name in ("hinge", "perceptron"):
        threshold = 1.0 if name == "hinge" else 0.0
        return lambda y, p: np.where(p * y <= threshold, -y, 0.0)
    if name == "squared_hinge":
        return lambda y, p: _clip(np.where(1.0 - p * y > 0, -2.0 * y * (1.0 - p * y), 0.0))
    if name == "log_loss":
        return _log_gradient
    if name == "modified_huber":
        return _modified_huber
    if name == "squared_error":
        return lambda y, p: _clip(p - y)
    if name == "huber":
        return lambda y, p: np.where(np.abs(p - y) <= epsilon, p - y, np.copysign(epsilon, p - y))
    if name == "epsilon_insensitive":
        return lambda y, p: np.where(y - p > epsilon, -1.0, np.where(p - y > epsilon, 1.0, 0.0))
    assert name == "squared_epsilon_insensitive"
    return lambda y, p: _clip(np.where(y - p > epsilon, -2.0 * (y - p - epsilon),
                                       np.where(p - y > epsilon, 2.0 * (p - y - epsilon), 0.0)))


def _clip(gradient: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(gradient, -MAX_DLOSS, MAX_DLOSS)
    return clipped


def _log_gradient(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``expit(p) - y`` without overflow."""
    e = np.exp(-np.abs(p))
    sigmoid = np.where(p >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    out: np.ndarray = sigmoid - y
    return out


def _modified_huber(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    z = p * y
    out: np.ndarray = np.where(z >= 1.0, 0.0, np.where(z >= -1.0, -2.0 * (1.0 - z) * y, -4.0 * y))
    return out
