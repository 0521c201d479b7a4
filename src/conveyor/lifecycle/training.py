"""The training step: load → split → train → evaluate → log the run (model, plan, baseline).

It ends with a finished MLflow run and returns its id; gating and registering the run is
the next step (:mod:`conveyor.lifecycle.registration`), which may run in another process and
needs only the run id. Everything goes through the context's explicit MLflow client; the
model itself is logged inside :func:`~conveyor.stack.tracking.fluent_run`, because MLflow
logs models only on its fluent active run.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.core.errors import TrainingError
from conveyor.lifecycle.context import LifecycleContext
from conveyor.lifecycle.data import Dataset, Split, split_dataset
from conveyor.lifecycle.gate_names import check_gate_names
from conveyor.lifecycle.metrics import evaluate_model, fairness_metrics, regression_fairness_metrics
from conveyor.lifecycle.orphans import owner_tags
from conveyor.lifecycle.preflight import TrainingInputs, prepare_training
from conveyor.lifecycle.progress import Reporter, SilentReporter
from conveyor.stack.processes import terminate_as_exit
from conveyor.stack.tracking import RunLog, ensure_experiment, fluent_run

if TYPE_CHECKING:
    import pandas as pd

MODEL_ARTIFACT = "model"
FAIRNESS_PREFIX = "fairness."


@dataclass
class TrainedRun:
    """A finished training run; ``split`` and ``model`` are kept only in-process so a gate
    in the same process need not read the data again."""

    run_id: str
    metrics: dict[str, float]
    fairness: dict[str, dict[str, float]] = field(default_factory=dict)
    split: Split | None = field(default=None, repr=False)
    model: Any = field(default=None, repr=False)


def train(
    context: LifecycleContext,
    reporter: Reporter | None = None,
    extra_tags: dict[str, str] | None = None,
    dataset: Dataset | None = None,
    inputs: TrainingInputs | None = None,
) -> TrainedRun:
    """Fit, evaluate and log one run; raises TrainingError (run FAILED) if user code fails.
    ``dataset``: the data to train on (default: the configured ``data.train``).

    ``inputs`` are the checks of :func:`~conveyor.lifecycle.preflight.prepare_training`
    when the caller made them before connecting; otherwise they are made here.
    The run is tagged with the process that owns it (a killed owner's run is marked KILLED by
    the next command, :mod:`conveyor.lifecycle.orphans`); SIGTERM and Ctrl-C end it KILLED
    before the process exits (143, 130)."""
    with terminate_as_exit():
        return _train(context, reporter, extra_tags, dataset, inputs)


def _train(
    context: LifecycleContext, reporter: Reporter | None, extra_tags: dict[str, str] | None,
    given: Dataset | None, inputs: TrainingInputs | None,
) -> TrainedRun:
    cfg = context.config
    project_dir = context.loaded.project_dir
    step = (reporter or SilentReporter()).step

    inputs = inputs or prepare_training(context.loaded, reporter, given)
    dataset, train_fn, evaluate_fn = inputs.dataset, inputs.train_fn, inputs.evaluate_fn
    with step("split"):
        split = split_dataset(dataset.frame, cfg.target, cfg.features, cfg.data, cfg.task)

    client = context.client
    experiment_id = ensure_experiment(client, cfg.name, context.artifact_root)
    run_tags = {
        tags.MODEL: cfg.name,
        tags.ENVIRONMENT: context.loaded.env_name or "default",
        tags.PIPELINE: "train",
        tags.DATA_SHA256: dataset.fingerprint["sha256"],
        tags.DATA_ROWS: str(dataset.fingerprint["rows"]),
        **_git_tags(project_dir),
        **owner_tags(),
        **(extra_tags or {}),
    }
    run_id = str(client.create_run(experiment_id, tags=run_tags).info.run_id)
    run = RunLog(client, run_id)
    try:
        trained = _tracked(context, run, dataset.fingerprint, split, train_fn, evaluate_fn, step)
    except (KeyboardInterrupt, SystemExit) as stopped:  # Ctrl-C, SIGTERM (terminate_as_exit)
        client.set_tag(run_id, tags.ENDED_BY, "SIGINT" if isinstance(stopped, KeyboardInterrupt) else "SIGTERM")
        client.set_terminated(run_id, status="KILLED")
        raise
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return trained


def _tracked(
    context: LifecycleContext,
    run: RunLog,
    fingerprint: dict[str, Any],
    split: Split,
    train_fn: Any,
    evaluate_fn: Any,
    step: Any,
) -> TrainedRun:
    cfg = context.config
    params = dict(cfg.train.params)
    with step("log inputs"):
        run.log_params(
            {
                # A ${SECRET} in train.params reaches the user's code, never MLflow.
                **{f"param.{k}": context.loaded.secrets.redact(str(v)) for k, v in params.items()},
                "split.method": cfg.data.split.method,
                "split.test_size": cfg.data.split.test_size,
                "split.seed": cfg.data.split.seed,
                "split.stratify": cfg.data.split.stratify,
                "train.rows": len(split.X_train),
                "test.rows": len(split.X_test),
                **({"split.column": cfg.data.split.column} if cfg.data.split.column else {}),
            }
        )
        run.log_text(context.loaded.snapshot(), "conveyor/config.yaml")
        run.log_dict(context.loaded.secrets.redact_tree(fingerprint), "conveyor/data_fingerprint.json")

    with step("train"):
        model = _call_user(train_fn, "user train function", split.X_train, split.y_train, params)
        _check_estimator(model, train_fn)
    with step("evaluate"):
        metrics = _call_user(evaluate_model, "model evaluation", model, split.X_test, split.y_test, cfg.task)
        if evaluate_fn is not None:
            extra = _call_user(evaluate_fn, "user evaluate function", model, split.X_test, split.y_test)
            metrics.update({str(k): float(v) for k, v in dict(extra or {}).items()})
        check_gate_names(cfg, computed=metrics)  # a gate on a metric never computed: no version
        fairness: dict[str, dict[str, float]] = {}
        if cfg.features.sensitive and cfg.task == "classification":
            fairness = fairness_metrics(split.y_test, model.predict(split.X_test), split.sensitive_test)
        elif cfg.features.sensitive:
            fairness = regression_fairness_metrics(
                split.y_test, model.predict(split.X_test), split.sensitive_test
            )

    with step("log model"):
        model_info = _log_model(context, run, model, split.X_train, train_fn)
        run.set_tag(tags.MODEL_URI, model_info.model_uri)
        if model_info.model_id:
            run.set_tag(tags.MODEL_ID, model_info.model_id)
        # Metrics go in after the model, already linked to it: logged before, MLflow's
        # log_model re-inserts them with the model id, hits their primary key and recovers
        # from the IntegrityError (on PostgreSQL psycopg then prints "error ignored
        # terminating <psycopg.Pipeline ...>").
        model_id = model_info.model_id or None
        run.log_metrics(metrics, model_id=model_id)
        for column, values in fairness.items():
            run.log_metrics({f"{FAIRNESS_PREFIX}{column}.{k}": v for k, v in values.items()}, model_id=model_id)
    with step("inference plan"):  # lets scoring jobs skip scikit-learn (conveyor.inference)
        from conveyor.inference.artifact import log_plan

        log_plan(run, model)
    with step("baseline profile"):  # what monitoring compares new data with
        from conveyor.lifecycle.baseline import log_baseline

        log_baseline(run, cfg, split, model, metrics)
    return TrainedRun(run.run_id, metrics, fairness, split, model)


def _log_model(context: LifecycleContext, run: RunLog, model: Any, X_train: pd.DataFrame, train_fn: Any) -> Any:
    import cloudpickle
    from mlflow.models import infer_signature

    # Classes defined in the user's train.py must travel with the pickle: the module
    # is not importable where the model is loaded (serving, batch, another machine).
    user_module = sys.modules.get(getattr(train_fn, "__module__", ""), None)
    if user_module is not None:
        cloudpickle.register_pickle_by_value(user_module)
    example = X_train.head(5)
    try:
        signature = infer_signature(example, model.predict(example))
    except Exception as exc:  # noqa: BLE001
        raise TrainingError(
            f"the trained model cannot predict on its own training columns: {exc}",
            user_traceback=traceback.format_exc(),
        ) from None
    with fluent_run(context.client, run.run_id) as mlflow:
        return mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            serialization_format="cloudpickle",
            pip_requirements=_requirements(context),
        )


def _requirements(context: LifecycleContext) -> list[str]:
    """Pinned from this interpreter; MLflow is never asked to infer them (slow)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in ("scikit-learn", "pandas", "numpy", "scipy", "cloudpickle"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    runtime = context.config.runtime
    extra = runtime.requirements if runtime else []
    return [*pins, *[str(r) for r in extra]]


def _check_estimator(model: Any, train_fn: Any) -> None:
    """The train function must return something fitted that predicts; say so in its terms."""
    if callable(getattr(model, "predict", None)):
        return
    name = getattr(train_fn, "__name__", str(train_fn))
    got = "None" if model is None else f"a {type(model).__name__}"
    raise TrainingError(
        f"the user train function ({name}) returned {got}, not a fitted model with predict()",
        user_traceback="",
        hint=f"end {name}(X, y, params) with `return model` (a fitted scikit-learn estimator or "
        "pipeline); the MLflow run is marked FAILED and nothing was registered",
    )


def _call_user(function: Any, label: str, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - the user's code: report with its traceback
        raise TrainingError(
            f"{label} ({getattr(function, '__name__', function)!s}) raised "
            f"{type(exc).__name__}: {exc}",
            user_traceback=traceback.format_exc(),
            hint="the MLflow run is marked FAILED and nothing was registered",
        ) from None


def _git_tags(project_dir: Path) -> dict[str, str]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True, text=True, timeout=5,
            check=False,
        )
        if commit.returncode != 0:
            return {}
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=project_dir, capture_output=True, text=True,
            timeout=5, check=False,
        )
        return {tags.GIT_COMMIT: commit.stdout.strip(), tags.GIT_DIRTY: str(bool(dirty.stdout.strip())).lower()}
    except (OSError, subprocess.SubprocessError):
        return {}
