"""The learner the config's ``online`` section names: a built-in one, or the user's
entrypoint (``learn.py:make_learner``, called as ``make_learner(params)``), whose result may
be a :class:`Learner`, a scikit-learn estimator with ``partial_fit`` (put behind the running
encoder) or a River model (``learn_one``). Anything else is refused at start, by name."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import LearnerError
from conveyor.online.encoding import FeatureEncoder
from conveyor.online.learner import Learner, LearnerTask, check_learner
from conveyor.online.partial_fit import (
    PartialFitLearner,
    encoder_mode,
    kmeans,
    naive_bayes,
    sgd,
)
from conveyor.online.river_adapter import RiverLearner, default_river_model

if TYPE_CHECKING:
    from conveyor.core.config.schema import ProjectConfig


def make_learner(config: ProjectConfig, project_dir: Path, classes: list[Any] | None) -> Learner:
    """A fresh learner for the project (``classes``: every class, for a classifier)."""
    online, features = config.online, config.features
    task: LearnerTask = "clustering" if online.learner == "kmeans" else config.task
    params = dict(online.params)
    encoder = FeatureEncoder(features.numeric, features.categorical, online.max_categories,
                             encoder_mode(online.learner))
    try:
        if online.learner == "sgd":
            return sgd(task, encoder, classes, params, update=online.update)
        if online.learner == "passive_aggressive":
            return sgd(task, encoder, classes, params, passive_aggressive=True, update=online.update)
        if online.learner == "naive_bayes":
            if config.task != "classification":
                raise LearnerError("online.learner 'naive_bayes' is a classifier; this model's task is regression",
                                   hint="choose sgd or passive_aggressive for regression")
            return naive_bayes(encoder, classes, params)
        if online.learner == "kmeans":
            return kmeans(encoder, params)
        if online.learner == "river":
            return RiverLearner(default_river_model(task, features.numeric, features.categorical, params),
                                task, classes)
    except (TypeError, ValueError) as exc:  # a parameter the estimator does not take
        raise LearnerError(f"online.learner {online.learner!r} with params {params}: {exc}",
                           hint="fix online.params (the estimator's own parameter names)") from None
    return _from_entrypoint(config, project_dir, encoder, task, classes)


def _from_entrypoint(
    config: ProjectConfig, project_dir: Path, encoder: FeatureEncoder, task: LearnerTask, classes: list[Any] | None,
) -> Learner:
    from conveyor.lifecycle.entrypoint import load_entrypoint

    reference = config.online.learner
    function = load_entrypoint(reference, project_dir)
    try:
        made = function(dict(config.online.params))
    except Exception as exc:  # noqa: BLE001 - the user's code: report it with its traceback
        raise LearnerError(
            f"the learner entrypoint {reference} raised {type(exc).__name__}: {exc}",
            hint=traceback.format_exc(limit=-3).strip().splitlines()[-1],
        ) from None
    return wrap(made, encoder, task, classes, f"the learner entrypoint {reference}")


def wrap(made: Any, encoder: FeatureEncoder, task: LearnerTask, classes: list[Any] | None, where: str) -> Learner:
    """What an entrypoint returned, as a learner (or one LearnerError saying what it lacks)."""
    if isinstance(made, Learner):
        check_learner(made, where)
        return made
    if callable(getattr(made, "partial_fit", None)) and callable(getattr(made, "predict", None)):
        if task == "classification" and classes is None:
            raise LearnerError(f"{where} returned a classifier, and no classes are known",
                               hint="list them in online.classes (partial_fit needs every class up front)")
        return PartialFitLearner(made, encoder, task, classes)
    if callable(getattr(made, "learn_one", None)) and callable(getattr(made, "predict_one", None)):
        return RiverLearner(made, task, classes)
    check_learner(made, where)  # raises: says what it lacks
    raise AssertionError("unreachable")  # pragma: no cover
