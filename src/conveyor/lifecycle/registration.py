"""The gate step: a finished training run → quality gate → registered version → first stage.

It needs only the run id: the metrics, fairness metrics and model URI are read back from
the run, and the test rows for the champion check are rebuilt from the training data (same
file, same split; the SHA-256 logged with the run must match). A gate in the same process
as training passes the split it already holds. The version is registered with its verdict
in one call, so there is never a version without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.core.errors import (
    ConveyorError,
    GateFailedError,
    RegistryError,
    StoreUnreachableError,
)
from conveyor.lifecycle.context import LifecycleContext
from conveyor.lifecycle.data import Split, load_dataset, split_dataset
from conveyor.lifecycle.gate import Champion, Verdict, evaluate_gate, verdict_tags
from conveyor.lifecycle.gate_names import check_gate_names
from conveyor.lifecycle.metrics import PRIMARY_METRIC, evaluate_model
from conveyor.lifecycle.progress import Reporter, SilentReporter
from conveyor.lifecycle.training import FAIRNESS_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Run


@dataclass
class TrainResult:
    model: str
    version: str
    run_id: str
    metrics: dict[str, float]
    verdict: Verdict
    alias: str | None
    champion: Champion | None = None
    fairness: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "gate": self.verdict.status,
            "checks": [c.detail for c in self.verdict.checks],
            "reasons": self.verdict.reasons,
            "alias": self.alias,
            "fairness": self.fairness,
        }


def gate_and_register(
    context: LifecycleContext,
    run_id: str,
    reporter: Reporter | None = None,
    split: Split | None = None,
    *,
    promote: bool = True,
) -> TrainResult:
    """Gate the run, register it with its verdict, give a passing version the first stage
    (``promote=False``: leave that to a promote job, an Airflow DAG's next task); raises
    GateFailedError (the version stays registered, without an alias) if it fails."""
    cfg = context.config
    client = context.client
    step = (reporter or SilentReporter()).step
    run = _training_run(context, run_id)
    metrics, fairness = _run_metrics(run)
    check_gate_names(cfg, computed=metrics)  # refused, not registered as gate-failed
    model_uri = run.data.tags.get(tags.MODEL_URI)
    if not model_uri:
        raise ConveyorError(
            f"run {run_id} logged no model", hint="gate a run that `conveyor train` finished"
        )

    with step("quality gate"):
        champion = _score_champion(context, split or _rebuild_split(context, run))
        compared = (cfg.gate.champion.metrics if cfg.gate.champion else None) or [PRIMARY_METRIC[cfg.task]]
        verdict = evaluate_gate(cfg.gate, metrics, champion=champion, champion_metrics=compared, fairness=fairness)
        client.set_tag(run_id, tags.GATE, verdict.status)

    with step("register"):
        context.registry.ensure_model(cfg.name)
        carried = (tags.ENVIRONMENT, tags.PIPELINE, tags.DATA_SHA256, tags.DATA_ROWS)
        version_tags = {
            **verdict_tags(verdict),
            **{k: v for k, v in run.data.tags.items()
               if k in carried or k.startswith(("conveyor.git.", "conveyor.trigger"))},
        }
        model_id = run.data.tags.get(tags.MODEL_ID)
        # The artifact location, not the `models:/<id>` URI: MLflow's SQL registry resolves
        # that URI through the process-global tracking store, which may be another stack's.
        source = client.get_logged_model(model_id).artifact_location if model_id else model_uri
        mv = client.create_model_version(
            cfg.name, source=source, run_id=run_id, tags=version_tags, model_id=model_id
        )
        version = str(mv.version)
        alias = None
        if verdict.passed and promote:
            alias = cfg.stages[0]
            context.promoter.promote(cfg.name, alias, version, action="train", reason="passed the quality gate")
    if not verdict.passed:
        raise GateFailedError(
            f"version {version} of {cfg.name!r} failed the quality gate",
            version=version,
            reasons=verdict.reasons,
        )
    return TrainResult(cfg.name, version, run_id, metrics, verdict, alias, champion, fairness)


def _training_run(context: LifecycleContext, run_id: str) -> Run:
    try:
        run = context.client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own error for an unknown id
        raise RegistryError(f"no run {run_id!r} in the tracking store: {exc}") from None
    name = context.config.name
    if run.data.tags.get(tags.MODEL) != name or run.data.tags.get(tags.PIPELINE) != "train":
        raise ConveyorError(
            f"run {run_id} is not a training run of {name!r}",
            hint="pass the run id that `conveyor job run` printed for the train step",
        )
    if run.info.status != "FINISHED":
        raise ConveyorError(f"run {run_id} is {run.info.status}, not FINISHED: nothing to gate")
    return run


def _run_metrics(run: Run) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    metrics: dict[str, float] = {}
    fairness: dict[str, dict[str, float]] = {}
    for key, value in run.data.metrics.items():
        if key.startswith(FAIRNESS_PREFIX):
            column, _, metric = key[len(FAIRNESS_PREFIX):].rpartition(".")
            fairness.setdefault(column, {})[metric] = float(value)
        else:
            metrics[key] = float(value)
    return metrics, fairness


def _rebuild_split(context: LifecycleContext, run: Run) -> Split | None:
    """The run's test rows, rebuilt from its training data; None if that data changed."""
    cfg = context.config
    dataset = load_dataset(cfg.data, context.loaded.project_dir)
    if dataset.fingerprint["sha256"] != run.data.tags.get(tags.DATA_SHA256):
        return None
    return split_dataset(dataset.frame, cfg.target, cfg.features, cfg.data, cfg.task)


def _score_champion(context: LifecycleContext, split: Split | None) -> Champion | None:
    """Score the stage holder on the same test rows, with the columns it was trained on."""
    cfg = context.config
    spec = cfg.gate.champion
    if spec is None:
        return None
    try:  # the champion lives on its stage's stand (another stand: opened now)
        stand = context.promoter.stands.of_stage(spec.stage)
    except StoreUnreachableError as exc:
        return Champion(stage=spec.stage, version="?", error=exc.message)
    try:
        holder = stand.registry.alias_holder(cfg.name, spec.stage)
    except ConveyorError:
        return None  # first version of a new model
    if holder is None:
        return None
    champion = Champion(stage=spec.stage, version=holder)
    if split is None:
        champion.error = "the training data changed since the run; the champion was not scored"
        return champion
    try:
        champion.metrics = _champion_metrics(stand.client, context, holder, split.test_frame, split.y_test)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as a gate note
        champion.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return champion


def _champion_metrics(
    client: MlflowClient, context: LifecycleContext, version: str, test_rows: pd.DataFrame, y_test: pd.Series
) -> dict[str, float]:
    from conveyor.scoring import as_estimator, load_version

    cfg = context.config
    scorer = load_version(client, cfg.name, version, cfg.features.inputs)
    return evaluate_model(as_estimator(scorer), test_rows[scorer.schema.names], y_test, cfg.task)
