"""Load one registered version as a :class:`Scorer` — the one place a version is loaded.

Through the client given: its download URI, downloaded with the client's tracking URI (no
``models:/`` URI resolved through MLflow's global registry). In order of preference: the
inference plan logged with the training run (no scikit-learn imported), a plan compiled
from the scikit-learn estimator now, the estimator itself (``n_jobs`` forced to 1: one
scoring process per core), else MLflow's pyfunc. An online learner's checkpoint is its
learner state (:class:`OnlineScorer`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import TYPE_CHECKING, Any

from conveyor.scoring._estimator import EstimatorScorer
from conveyor.scoring._online import ONLINE_FLAVOR, OnlineScorer, read_state
from conveyor.scoring._plan import CompiledScorer, PlanScorer
from conveyor.scoring._pyfunc import PyfuncScorer
from conveyor.scoring._registry import model_version
from conveyor.scoring._schema import Columns, InputSchema
from conveyor.scoring._scorer import UNREGISTERED, RegisteredVersion, Scorer

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger("conveyor.scoring")

NO_SCHEMA = InputSchema()

MLMODEL = "MLmodel"


def load_version(
    client: MlflowClient,
    name: str,
    version: str,
    fallback_columns: list[str] | None = None,
    *,
    native: bool = False,
) -> Scorer:
    """Download and load version ``version`` of ``name`` (seconds: never on a request path).

    ``fallback_columns`` name the inputs of a model whose signature names none; ``native``
    keeps the model object itself (no plan), for code that is handed the model (a score hook).
    """
    mv = model_version(client, name, str(version))
    source = RegisteredVersion(name, str(mv.version), str(mv.run_id or ""))
    folder = tempfile.mkdtemp(prefix=f"conveyor-{name}-v{source.version}-")
    try:
        meta = _metadata(client, source, folder)
        schema = InputSchema.from_signature(meta.signature, fallback_columns)
        if ONLINE_FLAVOR in meta.flavors:  # an online learner's checkpoint: its state file
            state = str(meta.flavors[ONLINE_FLAVOR]["state"])
            learner = read_state(_download(client, name, source.version, state, folder=folder))
            return OnlineScorer(learner, schema, source, _example(meta, folder, schema))
        sklearn = "sklearn" in meta.flavors
        if sklearn and not native:
            from conveyor.inference.artifact import load_plan

            plan = load_plan(client, source.run_id)
            if plan is not None:  # the MLmodel file and the input example are all it needs
                return PlanScorer(plan, schema, source, _example(meta, folder, schema))
        local = _download(client, name, source.version, folder=folder)
        example = _example(meta, local, schema)
        if not sklearn:
            import mlflow.pyfunc

            folder = ""  # a pyfunc model may read its files while it predicts: they stay
            return PyfuncScorer(mlflow.pyfunc.load_model(local), schema, source, example)
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(local)
    finally:  # a plan or an estimator is all in memory once loaded: the download goes
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    _single_job(estimator)
    return from_estimator(estimator, schema, source, example, compile=not native)


def from_estimator(
    estimator: Any,
    schema: InputSchema = NO_SCHEMA,
    source: RegisteredVersion = UNREGISTERED,
    example: Columns | None = None,
    *,
    compile: bool = True,
) -> Scorer:
    """A fitted scikit-learn estimator as a scorer: through a plan compiled from it when it
    compiles (same numbers, several times faster), else the estimator itself."""
    scorer = EstimatorScorer(estimator, schema, source, example)
    if not compile:
        return scorer
    from conveyor.inference import compile_model

    compiled = compile_model(estimator)
    return scorer if compiled is None else CompiledScorer(compiled, scorer)


def read_schema(client: MlflowClient, version: RegisteredVersion, fallback_columns: list[str] | None = None) -> InputSchema:
    """The version's input schema, from its MLmodel file alone (no model download)."""
    with tempfile.TemporaryDirectory(prefix="conveyor-mlmodel-") as folder:
        signature = _metadata(client, version, folder).signature
    return InputSchema.from_signature(signature, fallback_columns)


def _metadata(client: MlflowClient, version: RegisteredVersion, folder: str) -> Any:
    """The version's MLmodel (flavors, signature) and its input example file, under ``folder``."""
    from mlflow.models import Model

    meta = Model.load(_download(client, version.name, version.version, MLMODEL, folder=folder))
    example = (getattr(meta, "saved_input_example_info", None) or {}).get("artifact_path")
    if example:
        try:
            _download(client, version.name, version.version, str(example), folder=folder)
        except Exception:  # noqa: BLE001 - the example is optional
            log.debug("no input example for %s v%s", version.name, version.version)
    return meta


def download_version_file(client: MlflowClient, name: str, version: str, inner: str, folder: str) -> str:
    """One file of a version's logged model (``MLmodel``, ``requirements.txt``) under ``folder``."""
    return _download(client, name, version, inner, folder=folder)


def _download(client: MlflowClient, name: str, version: str, inner: str = "", *, folder: str) -> str:
    """The version's files (or one of them, ``inner``) under ``folder``, by the client's URIs."""
    import mlflow.artifacts

    uri = client.get_model_version_download_uri(name, version)
    return mlflow.artifacts.download_artifacts(
        artifact_uri=f"{uri.rstrip('/')}/{inner}" if inner else uri, dst_path=folder,
        tracking_uri=client.tracking_uri,
    )


def _example(meta: Any, local: str, schema: InputSchema) -> Columns | None:
    """The logged input example's first row as columns, if it matches the schema."""
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
