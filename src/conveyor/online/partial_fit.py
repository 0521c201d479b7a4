"""scikit-learn ``partial_fit`` estimators as learners, behind the running encoder.

:class:`PartialFitLearner` wraps any estimator with ``partial_fit`` (the user's, or one of the
named learners below); each mini-batch updates the encoder, then the estimator, in one call
(the cost of ``partial_fit`` is per call, not per row: mini-batches of a few hundred rows).

- ``sgd``: SGDClassifier (``loss="log_loss"``, a constant learning rate ``eta0=0.02``: it keeps
  adapting) / SGDRegressor; ``passive_aggressive``: the
  same with ``learning_rate="pa1"`` (the PassiveAggressive classes are deprecated in
  scikit-learn 1.8; ``pa2`` and ``C`` via params). Recovers from a drift at the pace of
  its learning rate.
- ``naive_bayes``: MultinomialNB on one-hot categories and binned numerics. It only adds
  counts: it never forgets, so after a concept drift it never recovers (choose it for
  streams whose concept does not move, or restart it).
- ``kmeans``: MiniBatchKMeans (no labels; the prediction is the cluster).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from conveyor.online.encoding import EncoderMode, FeatureEncoder
from conveyor.online.learner import Columns, Learner, LearnerTask, rows_of, take_rows
from conveyor.online.sgd_minibatch import covers, minibatch_update
from conveyor.online.sgd_update import SGDRule, rule_of, sgd_update

UPDATES = ("minibatch", "per_row")


class PartialFitLearner(Learner):
    kind: ClassVar[str] = "partial_fit"

    def __init__(
        self, estimator: Any, encoder: FeatureEncoder, task: LearnerTask, classes: list[Any] | None = None,
    ) -> None:
        super().__init__(task)
        self.estimator = estimator
        self.encoder = encoder
        self.known_classes = None if classes is None else np.asarray(classes)
        self.fitted_ = False

    @property
    def classes_(self) -> np.ndarray | None:
        if self.task != "classification" or not hasattr(self.estimator, "predict_proba"):
            return None
        return self.known_classes

    def learn(self, X: Columns, y: np.ndarray | None) -> None:
        n = rows_of(X)
        if n == 0:
            return
        self.encoder.update(X)
        matrix = self.encoder.transform(X)
        if not self.fitted_:  # the first call checks everything, parameters included
            if self.task == "clustering":
                self.estimator.partial_fit(matrix)
            elif self.task == "classification":
                self.estimator.partial_fit(matrix, y, classes=self.known_classes)
            else:
                self.estimator.partial_fit(matrix, y)
            self.fitted_ = True
        else:
            import sklearn

            # the encoder's output is finite (the schema guard let only finite numbers in) and
            # the parameters were checked on the first call: scikit-learn's per-call checks,
            # most of the cost of a mini-batch, are skipped
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                if self.task == "clustering":
                    self.estimator.partial_fit(matrix)
                else:
                    self.estimator.partial_fit(matrix, y)
        self.n_seen_ += n

    def predict(self, X: Columns) -> np.ndarray:
        n = rows_of(X)
        if not self.fitted_:
            return self._unfitted(n)
        return np.asarray(self.estimator.predict(self.encoder.transform(X)))

    def predict_proba(self, X: Columns) -> np.ndarray | None:
        classes = self.classes_
        if classes is None:
            return None
        if not self.fitted_:
            return np.full((rows_of(X), len(classes)), 1.0 / len(classes))
        return np.asarray(self.estimator.predict_proba(self.encoder.transform(X)))

    def _unfitted(self, n: int) -> np.ndarray:
        """Before the first update: the first class, 0.0, cluster 0."""
        if self.task == "classification" and self.known_classes is not None:
            return np.repeat(self.known_classes[:1], n)
        return np.zeros(n, dtype=np.float64 if self.task == "regression" else np.int64)

    def describe(self) -> str:
        return f"{self.kind} ({type(self.estimator).__name__}, {self.task})"


class SGDLearner(PartialFitLearner):
    """SGDClassifier / SGDRegressor. After the first batch (``partial_fit``, which checks the
    parameters and sets up ``coef_``) the update is done in numpy (:mod:`.sgd_update`, the
    same per-sample SGD) on the matrix the batch was predicted with: once fitted, a batch is
    encoded with the running moments before it, predicted, learned, then folded into the
    moments. Predictions come straight from ``coef_`` (what ``decision_function`` computes,
    without its per-call checks)."""

    kind: ClassVar[str] = "sgd"
    drift_note = "recovers from a drift at the pace of its learning rate (eta0, learning_rate)"
    _TRANSIENT: ClassVar[tuple[str, ...]] = ("_encoded", "_rule")

    def __init__(
        self, estimator: Any, encoder: FeatureEncoder, task: LearnerTask, classes: list[Any] | None = None,
        update: str = "minibatch",
    ) -> None:
        super().__init__(estimator, encoder, task, classes)
        if update not in UPDATES:
            raise ValueError(f"update {update!r} is not one of {', '.join(UPDATES)}")
        self.update = update
        self._encoded: tuple[Columns, np.ndarray] | None = None  # the batch last predicted, encoded
        self._rule: SGDRule | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._TRANSIENT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("update", "per_row")  # a state from before the mini-batch update
        self._encoded = self._rule = None

    def learn(self, X: Columns, y: np.ndarray | None) -> None:
        self.learn_rows(X, None, y)

    def learn_rows(self, X: Columns, rows: np.ndarray | None, y: np.ndarray | None) -> None:
        encoded, self._encoded = self._encoded, None
        part = X if rows is None else take_rows(X, rows)
        n = rows_of(part)
        if n == 0:
            return
        rule = self._rule
        if rule is None and self.fitted_:
            rule = self._rule = rule_of(self.estimator)
        if rule is None or y is None:
            super().learn(part, y)
            return
        if encoded is not None and encoded[0] is X:
            matrix = encoded[1] if rows is None else encoded[1][rows]
        else:
            matrix = self.encoder.transform(part)
        if self.update == "minibatch" and covers(rule):
            minibatch_update(self.estimator, rule, matrix, y)
        else:
            sgd_update(self.estimator, rule, matrix, y)
        self.encoder.update(part)
        self.n_seen_ += n

    def _encode(self, X: Columns) -> np.ndarray:
        matrix = self.encoder.transform(X)
        self._encoded = (X, matrix)
        return matrix

    def predict(self, X: Columns) -> np.ndarray:
        if not self.fitted_:
            return self._unfitted(rows_of(X))
        return self._labels(self._decision(self._encode(X)))

    def _labels(self, decision: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return decision
        classes = np.asarray(self.estimator.classes_)
        labels: np.ndarray = classes[(decision > 0).astype(np.int64)] if decision.ndim == 1 else \
            classes[decision.argmax(axis=1)]
        return labels

    def predict_with_proba(self, X: Columns) -> tuple[np.ndarray, np.ndarray | None]:
        """One transform and one product for both (log loss: the label is the most probable
        class, as scikit-learn's predict, which takes the largest decision value)."""
        if not self.fitted_ or self.classes_ is None or getattr(self.estimator, "loss", "") != "log_loss":
            return self.predict(X), self.predict_proba(X)
        decision = self._decision(self._encode(X))
        return self._labels(decision), _log_proba(decision)

    def predict_proba(self, X: Columns) -> np.ndarray | None:
        if not self.fitted_ or self.classes_ is None or getattr(self.estimator, "loss", "") != "log_loss":
            return super().predict_proba(X)
        return _log_proba(self._decision(self._encode(X)))

    @property
    def classes_(self) -> np.ndarray | None:
        if self.task != "classification":
            return None
        if getattr(self.estimator, "loss", "") not in ("log_loss", "modified_huber"):
            return None
        return self.known_classes

    def _decision(self, matrix: np.ndarray) -> np.ndarray:
        coef = np.asarray(self.estimator.coef_)
        intercept = np.asarray(self.estimator.intercept_)
        if coef.ndim == 1:  # SGDRegressor
            return np.asarray(matrix @ coef + intercept[0])
        out = matrix @ coef.T + intercept
        return np.asarray(out[:, 0] if out.shape[1] == 1 else out)


def _log_proba(decision: np.ndarray) -> np.ndarray:
    if decision.ndim == 1:
        positive = 1.0 / (1.0 + np.exp(-decision))
        return np.column_stack([1.0 - positive, positive])
    return _ovr(decision)


def _ovr(decision: np.ndarray) -> np.ndarray:
    """One-vs-rest probabilities, normalised as scikit-learn's SGDClassifier does."""
    proba = 1.0 / (1.0 + np.exp(-decision))
    total = proba.sum(axis=1, keepdims=True)
    normalised: np.ndarray = np.divide(proba, total, out=np.full_like(proba, 1.0 / proba.shape[1]), where=total > 0)
    return normalised


class PassiveAggressiveLearner(SGDLearner):
    """SGD with the passive-aggressive learning rates (``pa1``, ``pa2``)."""

    kind: ClassVar[str] = "passive_aggressive"
    drift_note = "recovers fast from a drift: each update corrects the last mistake (C bounds the step)"


class NaiveBayesLearner(PartialFitLearner):
    kind: ClassVar[str] = "naive_bayes"
    drift_note = "never recovers from a concept drift: MultinomialNB only adds counts, it never forgets"


class KMeansLearner(PartialFitLearner):
    kind: ClassVar[str] = "kmeans"
    drift_note = "centres move with every batch (MiniBatchKMeans' reassignment)"


def sgd(task: LearnerTask, encoder: FeatureEncoder, classes: list[Any] | None, params: dict[str, Any],
        passive_aggressive: bool = False, update: str = "minibatch") -> SGDLearner:
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    settings = dict(params)
    if passive_aggressive:
        settings.setdefault("learning_rate", "pa1")
        settings.setdefault("eta0", 1.0)
        settings.setdefault("penalty", None)
        settings.setdefault("loss", "hinge" if task == "classification" else "epsilon_insensitive")
    # a seeded generator, not a seed: scikit-learn builds a new one from a seed on every call
    settings["random_state"] = np.random.RandomState(settings.get("random_state", 0))
    if task == "classification":
        settings.setdefault("loss", "log_loss")
        # a constant step: a decaying one (scikit-learn's "optimal") stops adapting to drift
        settings.setdefault("learning_rate", "constant")
        settings.setdefault("eta0", 0.02)
        estimator: Any = SGDClassifier(**settings)
    else:
        estimator = SGDRegressor(**settings)
    kind = PassiveAggressiveLearner if passive_aggressive else SGDLearner
    return kind(estimator, encoder, task, classes, update)


def naive_bayes(encoder: FeatureEncoder, classes: list[Any] | None, params: dict[str, Any]) -> NaiveBayesLearner:
    from sklearn.naive_bayes import MultinomialNB

    return NaiveBayesLearner(MultinomialNB(**params), encoder, "classification", classes)


def kmeans(encoder: FeatureEncoder, params: dict[str, Any]) -> KMeansLearner:
    from sklearn.cluster import MiniBatchKMeans

    settings = {"n_clusters": 8, "n_init": 1, **params}
    settings["random_state"] = np.random.RandomState(settings.get("random_state", 0))
    return KMeansLearner(MiniBatchKMeans(**settings), encoder, "clustering")


def encoder_mode(kind: str) -> EncoderMode:
    return "counts" if kind == "naive_bayes" else "standard"
