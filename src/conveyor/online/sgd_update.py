"""The SGD update of a fitted SGDClassifier / SGDRegressor, done in numpy on the encoded
matrix instead of through ``partial_fit`` (whose per-call checks cost more than the update).

It is scikit-learn's own per-sample SGD (``_plain_sgd``: one epoch over the mini-batch, the
rows in arrival order, not shuffled): the same losses and gradients, the same learning-rate
schedules (``constant``, ``optimal``, ``invscaling``, the passive-aggressive ``pa1`` and
``pa2``), the same L2 weight decay, the intercept, ``t_`` counted on. The estimator stays the
scikit-learn object (its ``coef_``, ``intercept_`` and ``t_`` updated in place), so it pickles,
serves and checkpoints as before. What it does not cover (an L1 or elastic-net penalty,
``average``, ``class_weight``, the ``adaptive`` rate, a user's subclass) :func:`rule_of`
refuses, and the learner keeps calling ``partial_fit``.

How: as scikit-learn's ``WeightVector``, the weights are a vector times a scale, so the L2
decay of every row is one float multiplication; per row one dot product (BLAS ``ddot``), the
gradient in floats, and (when the update is not 0) one scaled add (``daxpy``). Each binary problem of a one-vs-rest
classifier runs the same loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DLOSS = 1e12  # scikit-learn clips the gradient to this
_THRESHOLDS = {"hinge": 1.0, "perceptron": 0.0, "squared_hinge": 1.0}
_CLASSIFICATION = ("hinge", "perceptron", "squared_hinge", "log_loss", "modified_huber")
_REGRESSION = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")
_RATES = ("constant", "optimal", "invscaling", "pa1", "pa2")

Loss = Callable[[float, float], float]  # (y, p) -> value


@dataclass(frozen=True)
class SGDRule:
    """What one update needs from the estimator's parameters (read once)."""

    name: str  # the loss
    epsilon: float  # of the huber and epsilon-insensitive losses
    gradient: Loss
    loss: Loss
    hinge: bool  # the passive-aggressive update is signed by y (hinge, perceptron)
    labels01: bool  # log loss takes y in {0, 1}; the other classification losses {-1, +1}
    learning_rate: str
    eta0: float
    power_t: float
    alpha: float
    decay: bool  # L2 penalty
    fit_intercept: bool
    optimal_init: float


def rule_of(estimator: Any) -> SGDRule | None:
    """The rule of a plain SGDClassifier / SGDRegressor, None if the numpy update does not cover it."""
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if type(estimator) not in (SGDClassifier, SGDRegressor):
        return None
    loss_name = estimator.loss
    allowed = _CLASSIFICATION if type(estimator) is SGDClassifier else _REGRESSION
    if (loss_name not in allowed or estimator.learning_rate not in _RATES or estimator.penalty not in (None, "l2")
            or estimator.average or getattr(estimator, "class_weight", None) is not None):
        return None
    gradient, value = _losses(loss_name, float(getattr(estimator, "epsilon", 0.1)))
    alpha = float(estimator.alpha)
    optimal_init = 0.0
    if estimator.learning_rate == "optimal":
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        optimal_init = 1.0 / (typw / max(1.0, gradient(1.0, -typw)) * alpha)
    return SGDRule(loss_name, float(getattr(estimator, "epsilon", 0.1)), gradient, value, loss_name in ("hinge", "perceptron"), loss_name == "log_loss",
                   estimator.learning_rate, float(estimator.eta0), float(estimator.power_t), alpha,
                   estimator.penalty == "l2", bool(estimator.fit_intercept), optimal_init)


def sgd_update(estimator: Any, rule: SGDRule, matrix: np.ndarray, y: np.ndarray) -> None:
    """One epoch of per-sample SGD over ``matrix`` (rows × features) and ``y``, in place."""
    n = len(matrix)
    if n == 0:
        return
    t0 = float(estimator.t_)
    eta = etas(rule, t0, n)
    sqnorm = np.einsum("ij,ij->i", matrix, matrix) if rule.learning_rate in ("pa1", "pa2") else None
    decays = np.maximum(0.0, 1.0 - eta * rule.alpha) if rule.decay else np.ones(n)
    coef = estimator.coef_
    intercept = estimator.intercept_
    targets = signed_targets(estimator, rule, y)
    weights = coef if coef.ndim == 2 else coef[None, :]
    for k in range(weights.shape[0]):
        _one_problem(rule, weights[k], intercept, k, matrix, targets[:, k], eta, sqnorm, decays)
    estimator.t_ = t0 + n


def signed_targets(estimator: Any, rule: SGDRule, y: np.ndarray) -> np.ndarray:
    """rows × problems: the regression's target; per binary problem of the classifier (one for
    two classes: the second's; else one per class, one-vs-rest) 1 for the class and 0 (log
    loss) or -1 (the other losses) for the rest."""
    if estimator.coef_.ndim == 1:  # SGDRegressor
        return np.asarray(y, dtype=np.float64)[:, None]
    classes = estimator.classes_
    positive = np.asarray(y)[:, None] == (classes[1:] if len(classes) == 2 else classes)[None, :]
    signed: np.ndarray = positive.astype(np.float64) if rule.labels01 else 2.0 * positive - 1.0
    return signed


def _one_problem(rule: SGDRule, w: np.ndarray, intercept: np.ndarray, at: int, matrix: np.ndarray, y: np.ndarray,
                 eta: np.ndarray, sqnorm: np.ndarray | None, decays: np.ndarray) -> None:
    """The sequential part for one binary problem (or the regression): ``w`` and ``intercept[at]`` in place."""
    from scipy.linalg.blas import (  # one BLAS call each: a third of numpy's per-call cost here
        daxpy,
        ddot,
    )

    vector, scale, b = np.array(w, dtype=np.float64), 1.0, float(intercept[at])  # the weights: scale * vector
    rows = np.ascontiguousarray(matrix, dtype=np.float64)
    ys, etas, shrink = y.tolist(), eta.tolist(), decays.tolist()
    norms = sqnorm.tolist() if sqnorm is not None else None
    gradient, loss, rate, fit_intercept = rule.gradient, rule.loss, rule.learning_rate, rule.fit_intercept
    for i, x in enumerate(rows):
        p = scale * ddot(x, vector) + b
        yi = ys[i]
        if norms is None:
            update = -etas[i] * gradient(yi, p)
        else:
            norm = norms[i]
            if rate == "pa1":
                if norm == 0:
                    continue  # scikit-learn skips such a row entirely
                update = min(rule.eta0, loss(yi, p) / norm)
            else:
                update = loss(yi, p) / (norm + 0.5 / rule.eta0)
            if rule.hinge:
                update *= yi
            elif yi - p < 0:
                update = -update
        if shrink[i] != 1.0:
            scale *= shrink[i]
            if scale < 1e-9:  # as WeightVector: fold the scale into the vector before it underflows (or is 0)
                vector *= scale
                scale = 1.0
        if update != 0.0:
            vector = daxpy(x, vector, a=update / scale)  # in place: vector += (update / scale) * x
            if fit_intercept:
                b += update
    w[:] = vector * scale
    intercept[at] = b


def etas(rule: SGDRule, t0: float, n: int) -> np.ndarray:
    if rule.learning_rate == "optimal":
        optimal: np.ndarray = 1.0 / (rule.alpha * (rule.optimal_init + t0 + np.arange(n) - 1))
        return optimal
    if rule.learning_rate == "invscaling":
        scaling: np.ndarray = rule.eta0 / np.power(t0 + np.arange(n), rule.power_t)
        return scaling
    return np.full(n, rule.eta0)


def _losses(name: str, epsilon: float) -> tuple[Loss, Loss]:
    """(gradient, value) of scikit-learn's loss ``name`` as functions of (y, p); an unbounded
    gradient clipped to ``MAX_DLOSS`` as scikit-learn does (the others never reach it)."""
    if name in _THRESHOLDS:
        threshold = _THRESHOLDS[name]
        if name == "squared_hinge":
            return (lambda y, p: _clip(-2.0 * y * (threshold - p * y)) if threshold - p * y > 0 else 0.0,
                    lambda y, p: (threshold - p * y) ** 2 if threshold - p * y > 0 else 0.0)
        return (lambda y, p: -y if p * y <= threshold else 0.0, lambda y, p: max(0.0, threshold - p * y))
    if name == "log_loss":
        return _log_gradient, _log_value
    if name == "modified_huber":
        return _modified_huber_gradient, _modified_huber_value
    if name == "squared_error":
        return (lambda y, p: _clip(p - y)), (lambda y, p: 0.5 * (y - p) ** 2)
    if name == "huber":
        return (lambda y, p: p - y if abs(p - y) <= epsilon else math.copysign(epsilon, p - y),
                lambda y, p: 0.5 * (y - p) ** 2 if abs(y - p) <= epsilon else epsilon * (abs(y - p) - 0.5 * epsilon))
    if name == "epsilon_insensitive":
        return (lambda y, p: -1.0 if y - p > epsilon else 1.0 if p - y > epsilon else 0.0,
                lambda y, p: max(0.0, abs(y - p) - epsilon))
    assert name == "squared_epsilon_insensitive"
    return (lambda y, p: _clip(-2.0 * (y - p - epsilon) if y - p > epsilon else 2.0 * (p - y - epsilon) if p - y > epsilon else 0.0),
            lambda y, p: max(0.0, abs(y - p) - epsilon) ** 2)


def _clip(gradient: float) -> float:
    return min(max(gradient, -MAX_DLOSS), MAX_DLOSS)


def _log_gradient(y: float, p: float) -> float:
    """The half binomial loss' gradient, ``expit(p) - y`` (y in {0, 1}), without overflow."""
    if p >= 0:
        return 1.0 / (1.0 + math.exp(-p)) - y
    e = math.exp(p)
    return e / (1.0 + e) - y


def _log_value(y: float, p: float) -> float:
    return (p if p > 0 else 0.0) + math.log1p(math.exp(-abs(p))) - y * p


def _modified_huber_gradient(y: float, p: float) -> float:
    z = p * y
    return 0.0 if z >= 1.0 else 2.0 * (1.0 - z) * -y if z >= -1.0 else -4.0 * y


def _modified_huber_value(y: float, p: float) -> float:
    z = p * y
    return 0.0 if z >= 1.0 else (1.0 - z) ** 2 if z >= -1.0 else -4.0 * z
