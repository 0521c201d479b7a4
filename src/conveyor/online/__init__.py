"""Online learning: one guarded learner on a stream, validated progressively, checkpointed
into the registry behind a light gate, rolled back by alias when it falls behind.

    run_learn(context, LearnOptions)   → LearnSummary   (`conveyor learn`, the learn job)
    Learner                              the contract (learner.py): SGD / passive-aggressive,
                                         MultinomialNB, MiniBatchKMeans (partial_fit.py), River
                                         (river_adapter.py), a user's entrypoint (factory.py)
    guards                               schema, labels, poison filter, source rate and share
    LearnStep                            one mini-batch: guards → predict → validate → learn
    Prequential                          progressive validation over a sliding window
    Checkpoints                          state → MLflow run + version → gate → first stage
    LiveWatch                            the promoted checkpoint against its predecessor, live
    drift                                ADWIN, Page-Hinkley on standardised batch means
"""

from conveyor.online.checkpoint import CheckpointResult, Checkpoints, CheckpointState
from conveyor.online.encoding import FeatureEncoder
from conveyor.online.factory import make_learner, wrap
from conveyor.online.learner import Columns, Learner, check_learner
from conveyor.online.loop import LearnSummary, LoopOptions, OnlineLoop
from conveyor.online.partial_fit import (
    KMeansLearner,
    NaiveBayesLearner,
    PartialFitLearner,
    PassiveAggressiveLearner,
    SGDLearner,
)
from conveyor.online.river_adapter import RiverLearner
from conveyor.online.run import LearnOptions, run_learn
from conveyor.online.step import LearnStep, StepOutcome, StepParts, StepSettings
from conveyor.online.validation import Prequential

__all__ = [
    "CheckpointResult",
    "CheckpointState",
    "Checkpoints",
    "Columns",
    "FeatureEncoder",
    "KMeansLearner",
    "LearnOptions",
    "LearnStep",
    "LearnSummary",
    "Learner",
    "LoopOptions",
    "NaiveBayesLearner",
    "OnlineLoop",
    "PartialFitLearner",
    "PassiveAggressiveLearner",
    "Prequential",
    "RiverLearner",
    "SGDLearner",
    "StepOutcome",
    "StepParts",
    "StepSettings",
    "check_learner",
    "make_learner",
    "run_learn",
    "wrap",
]
