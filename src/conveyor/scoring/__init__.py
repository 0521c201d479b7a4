"""One scoring core: a registered version loaded as a :class:`Scorer`, shared by serving,
batch, monitoring and the gate (and later streaming and online learning).

    resolve(client, "churn@prod")            → RegisteredVersion (alias, @latest, @vN)
    load_version(client, name, version)      → Scorer: logged plan | compiled plan |
                                               scikit-learn estimator | MLflow pyfunc |
                                               online learner checkpoint
    scorer.predict(columns or frame)         → Prediction(labels, proba, classes); .scores
                                               (RefusedRows: the rows the estimator refuses)
    scorer.schema                            → InputSchema from the MLflow signature
    pack(scorer) / unpack(payload)           → bytes for batch workers
    as_estimator(scorer)                     → predict / predict_proba / classes_ view

Every classifier is scored under one rule (:mod:`conveyor.scoring._rule`): labels are the
estimator's own ``predict``; the score is P(class 1) for binary, the top probability otherwise.
"""

from conveyor.scoring._estimator import EstimatorScorer
from conveyor.scoring._frames import strings_as_objects
from conveyor.scoring._load import download_version_file, from_estimator, load_version, read_schema
from conveyor.scoring._online import ONLINE_FLAVOR, STATE_FILE, OnlineScorer
from conveyor.scoring._pack import pack, pack_object, payload_key, unpack
from conveyor.scoring._plan import CompiledScorer, PlanScorer
from conveyor.scoring._prediction import Prediction
from conveyor.scoring._pyfunc import PyfuncScorer
from conveyor.scoring._registry import model_version, not_found, registered_model
from conveyor.scoring._resolve import resolve
from conveyor.scoring._rule import labels_of, near_ties, predicts_most_probable, scores_of
from conveyor.scoring._schema import Columns, InputField, InputSchema
from conveyor.scoring._scorer import RegisteredVersion, Scorer
from conveyor.scoring._view import EstimatorView, as_estimator

__all__ = [
    "ONLINE_FLAVOR",
    "STATE_FILE",
    "Columns",
    "CompiledScorer",
    "EstimatorScorer",
    "EstimatorView",
    "InputField",
    "InputSchema",
    "OnlineScorer",
    "PlanScorer",
    "Prediction",
    "PyfuncScorer",
    "RegisteredVersion",
    "Scorer",
    "as_estimator",
    "download_version_file",
    "from_estimator",
    "labels_of",
    "load_version",
    "model_version",
    "near_ties",
    "not_found",
    "pack",
    "pack_object",
    "payload_key",
    "predicts_most_probable",
    "read_schema",
    "registered_model",
    "resolve",
    "scores_of",
    "strings_as_objects",
    "unpack",
]
