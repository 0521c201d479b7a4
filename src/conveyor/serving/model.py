"""Load one registered model version, ready for fast batched prediction.

A version whose training run logged an inference plan is served from that plan alone (the
worker never imports scikit-learn). For other scikit-learn models that compile to an
:class:`~conveyor.inference.InferencePlan` the plan runs straight on the request's column lists (no DataFrame, no per-row string work);
other scikit-learn models are called directly (no pyfunc schema enforcement, n_jobs forced
to 1), classifiers returning labels and the positive-class score from one ``predict_proba``
call. Anything else goes through MLflow's pyfunc.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.serving.signature import Columns, InputSchema

if TYPE_CHECKING:
    import numpy as np
    from mlflow import MlflowClient

    from conveyor.inference import InferencePlan

log = logging.getLogger("conveyor.serving")

# Final estimators whose predict is not argmax(predict_proba): call predict for them.
_THRESHOLDED = {"TunedThresholdClassifierCV", "FixedThresholdClassifier"}


@dataclass
class Prediction:
    """Outputs of one model call, aligned with its input rows."""

    labels: np.ndarray
    scores: np.ndarray | None = None


@dataclass
class LoadedModel:
    name: str
    version: str
    run_id: str
    flavor: str  # "plan" (inference plan logged at training), "sklearn" or "pyfunc"
    schema: InputSchema
    estimator: Any = field(repr=False)
    example: Columns | None = field(default=None, repr=False)
    loaded_at: float = field(default_factory=time.time)
    plan: InferencePlan | None = field(default=None, repr=False)
    _proba: bool = field(default=False, repr=False)
    _argmax: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self.flavor == "plan":  # the plan logged at training: no estimator, no scikit-learn
            assert self.plan is not None
            self._proba = self.plan.classes is not None
        elif self.flavor == "sklearn":
            from conveyor.inference import compile_model

            self.plan = compile_model(self.estimator)
            self._proba = hasattr(self.estimator, "predict_proba") and hasattr(self.estimator, "classes_")
            final = _final_step(self.estimator)
            self._argmax = (
                self._proba
                and type(final).__module__.startswith("sklearn.")
                and type(final).__name__ not in _THRESHOLDED
            )

    @property
    def inline(self) -> bool:
        """Whether a batch is cheap and bounded enough to predict on the event loop itself:
        a plan with a numpy head costs microseconds per row, less than a thread hand-off."""
        return self.plan is not None and not self.plan.needs_sklearn

    @property
    def output_kind(self) -> str:
        return "classifier" if self._proba else "values"

    def frame(self, columns: Columns) -> Any:
        """One DataFrame per batch, straight from the column lists."""
        import numpy as np
        import pandas as pd

        data: dict[str, Any] = {}
        names = self.schema.names or list(columns)
        for f_name in names:
            values = columns[f_name]
            kind = self._type(f_name)
            if kind in ("double", "float"):
                data[f_name] = np.array(values, dtype=np.float64)
            elif kind in ("long", "integer"):
                try:
                    data[f_name] = np.array(values, dtype=np.int64)
                except (TypeError, ValueError):  # missing values: float with NaN
                    data[f_name] = np.array(values, dtype=np.float64)
            else:
                data[f_name] = values
        return pd.DataFrame(data)

    def predict(self, columns: Columns) -> Prediction:
        import numpy as np

        if self.plan is not None:
            result = self.plan.run(columns)
            return Prediction(np.asarray(result.labels), result.scores)
        frame = self.frame(columns)
        if self.flavor != "sklearn":
            out = self.estimator.predict(frame)
            if hasattr(out, "to_numpy"):
                out = out.to_numpy()
            out = np.asarray(out)
            if out.ndim == 2 and out.shape[1] == 1:
                out = out[:, 0]
            return Prediction(out)
        if not self._proba:
            return Prediction(np.asarray(self.estimator.predict(frame)))
        proba = self.estimator.predict_proba(frame)
        if self._argmax:
            labels = self.estimator.classes_[proba.argmax(axis=1)]
        else:
            labels = np.asarray(self.estimator.predict(frame))
        scores = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
        return Prediction(labels, scores)

    def warm(self) -> None:
        """One prediction on the logged input example (or a synthetic row) before serving."""
        columns = self.example or {
            f.name: [0.0 if f.numeric else ("" if f.type == "string" else None)]
            for f in self.schema.fields
        }
        try:
            self.predict({k: list(v) for k, v in columns.items()})
        except Exception:
            if self.example is not None:
                raise  # the model cannot score its own example: do not serve it
            log.warning("warm-up on a synthetic row failed for %s v%s", self.name, self.version)

    def _type(self, name: str) -> str:
        for f in self.schema.fields:
            if f.name == name:
                return f.type
        return "any"


def load_version(
    client: MlflowClient, name: str, version: str, fallback_columns: list[str] | None = None
) -> LoadedModel:
    """Download, load and warm ``models:/name/version`` (seconds; never on the request path)."""
    import mlflow
    from mlflow.models import Model

    from conveyor.inference.artifact import load_plan

    mv = client.get_model_version(name, str(version))
    source = client.get_model_version_download_uri(name, str(version))
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=tempfile.mkdtemp(prefix=f"conveyor-{name}-v{version}-")
    )
    meta = Model.load(local)
    schema = InputSchema.from_signature(meta.signature, fallback_columns)
    plan = load_plan(client, str(mv.run_id)) if "sklearn" in meta.flavors and mv.run_id else None
    estimator: Any = None
    if plan is not None:
        flavor = "plan"
    elif "sklearn" in meta.flavors:
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(local)
        _single_job(estimator)
        flavor = "sklearn"
    else:
        estimator = mlflow.pyfunc.load_model(local)
        flavor = "pyfunc"
    example = _example(meta, local, schema)
    model = LoadedModel(name, str(mv.version), str(mv.run_id or ""), flavor, schema, estimator, example, plan=plan)
    model.warm()
    return model


def _example(meta: Any, local: str, schema: InputSchema) -> Columns | None:
    try:
        frame = meta.load_input_example(local)
    except Exception:  # noqa: BLE001 - the example is optional
        return None
    if frame is None or not hasattr(frame, "to_dict"):
        return None
    frame = frame.head(1)
    columns = {str(c): frame[c].tolist() for c in frame.columns}
    if schema.fields and set(columns) != set(schema.names):
        return None
    return {k: [None if v != v else v for v in vals] for k, vals in columns.items()}  # NaN -> None


def _single_job(estimator: Any) -> None:
    """Inference runs one process per core; nested joblib parallelism only adds overhead."""
    try:
        params = estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001
        return
    jobs = {k: 1 for k, v in params.items() if k.endswith("n_jobs") and v not in (None, 1)}
    if jobs:
        try:
            estimator.set_params(**jobs)
        except Exception:  # noqa: BLE001
            log.debug("could not set n_jobs=1 on %s", type(estimator).__name__)


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator
