"""Checkpoints into the registry: the learner's state becomes an MLflow run (state, metrics,
event count, source offsets, lineage to the previous checkpoint) and a registered version.

A checkpoint passes a light gate before it gets the first stage: the thresholds of
``online.gate.metrics`` (default ``gate.metrics``) on the holdout, and the first stage's
holder scored on the same holdout (``online.gate.max_drop``). A passing version takes the
first stage through the promoter (audited, under the move lock); stages beyond it move as
configured: with ``online.auto_promote`` on through every later stage by the same promoter
(:meth:`~conveyor.lifecycle.promotion.Promoter.promote_beyond`, as a retrain's
``monitor.auto_promote``), else only by ``conveyor promote``. A failing one stays registered
with its verdict, without an alias, as a trained version would. On restart the learner
resumes from the last checkpoint and the offsets recorded with it (:meth:`Checkpoints.last`).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core import tags
from conveyor.core.config.schema import ChampionSpec, GateSpec
from conveyor.core.errors import ConveyorError
from conveyor.lifecycle.gate import Champion, Verdict, evaluate_gate, verdict_tags
from conveyor.lifecycle.metrics import PRIMARY_METRIC, task_metrics
from conveyor.online.learner import Learner, check_learner
from conveyor.online.model_files import write_model
from conveyor.stack.tracking import ensure_experiment

if TYPE_CHECKING:
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.online.holdout import Holdout
    from conveyor.scoring import Scorer

PIPELINE = "online"
MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class CheckpointState:
    """What the loop knows at a checkpoint."""

    events: int
    learned: int
    offsets: dict[str, str]
    window_metrics: dict[str, float]
    counts: dict[str, int]  # dead letters by reason


@dataclass
class CheckpointResult:
    version: str
    run_id: str
    events: int
    metrics: dict[str, float]
    verdict: Verdict
    alias: str | None
    previous: str | None = None  # the previous checkpoint (lineage)
    replaced: str | None = None  # the version that held the first stage before this one took it
    state: bytes = field(default=b"", repr=False)  # the learner as checkpointed
    promoted: list[str] = field(default_factory=list)  # later stages it took (online.auto_promote)
    refused: str | None = None  # why auto_promote stopped before the last stage

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "run_id": self.run_id, "events": self.events, "metrics": self.metrics,
                "gate": self.verdict.status, "reasons": self.verdict.reasons, "alias": self.alias,
                "previous": self.previous, "replaced": self.replaced, "promoted": self.promoted,
                "refused": self.refused}


@dataclass
class Restored:
    version: str
    run_id: str
    learner: Learner
    events: int
    offsets: dict[str, str] = field(default_factory=dict)


class Checkpoints:
    def __init__(self, context: LifecycleContext, learner_run_id: str, holdout: Holdout) -> None:
        self.context = context
        self.learner_run_id = learner_run_id
        self.holdout = holdout
        self.previous: tuple[str, str] | None = None  # (version, run id) of the last checkpoint
        self._champions: dict[str, Scorer] = {}

    # -- saving -----------------------------------------------------------------------------

    def save(self, learner: Learner, state: CheckpointState) -> CheckpointResult:
        context, cfg = self.context, self.context.config
        client = context.client
        snapshot = learner.to_bytes()
        metrics = self.holdout_metrics(learner)
        verdict = self._verdict(metrics)
        lineage = {}
        if self.previous is not None:
            lineage = {tags.ONLINE_PREVIOUS: self.previous[0], tags.ONLINE_PREVIOUS_RUN: self.previous[1]}
        common = {
            tags.ONLINE_CHECKPOINT: "true",
            tags.ONLINE_EVENTS: str(state.events),
            tags.ONLINE_LEARNED: str(state.learned),
            tags.ONLINE_OFFSETS: json.dumps(state.offsets, sort_keys=True),
            tags.ONLINE_LEARNER: learner.describe(),
            tags.ONLINE_LEARNER_RUN: self.learner_run_id,
            tags.ONLINE_HOLDOUT: self._holdout_name(),
            **lineage,
        }
        experiment = ensure_experiment(client, cfg.name, context.artifact_root)
        run = client.create_run(experiment, tags={
            tags.MODEL: cfg.name, tags.PIPELINE: PIPELINE, tags.ENVIRONMENT: context.loaded.env_name or "default",
            tags.GATE: verdict.status, **common,
        })
        run_id = str(run.info.run_id)
        try:
            self._log(run_id, learner, snapshot, metrics, state)
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
        context.registry.ensure_model(cfg.name)
        mv = client.create_model_version(
            cfg.name, source=f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}", run_id=run_id,
            tags={**verdict_tags(verdict), **common},
        )
        version = str(mv.version)
        previous = None if self.previous is None else self.previous[0]
        self.previous = (version, run_id)
        result = CheckpointResult(version, run_id, state.events, metrics, verdict, None, previous, None, snapshot)
        if verdict.passed:
            result.alias = cfg.stages[0]
            reason = f"checkpoint at {state.events} events passed the online gate"
            move = context.promoter.promote(cfg.name, result.alias, version, action=PIPELINE, reason=reason)
            result.replaced = move.from_version
            if cfg.online.auto_promote:
                beyond = context.promoter.promote_beyond(cfg.name, version, reason=f"auto_promote: {reason}",
                                                         action=PIPELINE)
                result.promoted, result.refused = beyond.stages, beyond.refused
        return result

    def _log(self, run_id: str, learner: Learner, snapshot: bytes, metrics: dict[str, float],
             state: CheckpointState) -> None:
        from mlflow.entities import Metric, Param

        client, cfg = self.context.client, self.context.config
        now = int(time.time() * 1000)
        values = {**metrics, **{f"prequential.{k}": v for k, v in state.window_metrics.items()},
                  "online.events": float(state.events), "online.learned": float(state.learned),
                  **{f"dead_letters.{k}": float(v) for k, v in state.counts.items()}}
        params = {"learner": cfg.online.learner, **{f"param.{k}": v for k, v in cfg.online.params.items()}}
        client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in values.items()],
                         params=[Param(k, str(v)[:500]) for k, v in params.items()])
        with tempfile.TemporaryDirectory(prefix="conveyor-checkpoint-") as folder:
            write_model(Path(folder) / MODEL_ARTIFACT, learner, snapshot, cfg)
            client.log_artifacts(run_id, str(Path(folder) / MODEL_ARTIFACT), MODEL_ARTIFACT)

    def _holdout_name(self) -> str:
        fixed = self.context.config.online.checkpoint.holdout
        return fixed if fixed is not None else f"stream:{len(self.holdout)}"

    # -- the gate ---------------------------------------------------------------------------

    def holdout_metrics(self, learner: Learner) -> dict[str, float]:
        """The task's metrics of ``learner`` on the holdout (empty: no holdout yet)."""
        X, y = self.holdout.data()
        if not len(y) or not learner.supervised:
            return {}
        predicted, proba = learner.predict_with_proba(X)
        return _metrics(y, predicted, proba, learner.classes_, learner.task)

    def _verdict(self, metrics: dict[str, float]) -> Verdict:
        cfg = self.context.config
        online = cfg.online.gate
        thresholds = online.metrics if online.metrics is not None else cfg.gate.metrics
        first = cfg.stages[0]
        champion_spec = None if online.max_drop is None else ChampionSpec(stage=first, max_drop=online.max_drop)
        spec = GateSpec(metrics=thresholds, champion=champion_spec, fairness={})
        if not metrics and cfg.online.learner == "kmeans":
            return evaluate_gate(spec.model_copy(update={"champion": None}), metrics)
        wanted = (cfg.gate.champion.metrics if cfg.gate.champion else None) or [PRIMARY_METRIC[cfg.task]]
        compared = [m for m in wanted if m in metrics] or (["accuracy"] if cfg.task == "classification" else ["rmse"])
        champion = self._champion(first) if champion_spec is not None else None
        return evaluate_gate(spec, metrics, champion=champion, champion_metrics=compared)

    def _champion(self, stage: str) -> Champion | None:
        """The stage's holder scored on the same holdout (None: no holder yet)."""
        from conveyor.scoring import load_version

        context, cfg = self.context, self.context.config
        try:
            holder = context.registry.alias_holder(cfg.name, stage)
        except ConveyorError:
            return None
        if holder is None:
            return None
        champion = Champion(stage=stage, version=holder)
        try:
            scorer = self._champions.get(holder)
            if scorer is None:
                scorer = self._champions[holder] = load_version(context.client, cfg.name, holder, cfg.features.inputs)
            X, y = self.holdout.data()
            columns = X if scorer.flavor == "online" else {k: list(v) for k, v in X.items()}
            prediction = scorer.predict(columns)
            champion.metrics = _metrics(y, prediction.labels, prediction.proba, scorer.classes, cfg.task)
        except Exception as exc:  # noqa: BLE001 - a champion that cannot score is reported, not fatal
            champion.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return champion

    def scorer_of(self, version: str) -> Scorer:
        """A registered version as a scorer (cached: versions never change)."""
        from conveyor.scoring import load_version

        cfg = self.context.config
        scorer = self._champions.get(version)
        if scorer is None:
            scorer = self._champions[version] = load_version(self.context.client, cfg.name, version, cfg.features.inputs)
        return scorer

    # -- resuming ---------------------------------------------------------------------------

    def last(self) -> Restored | None:
        """The newest checkpoint of the model (its learner, events, offsets), if any."""
        from mlflow.exceptions import MlflowException

        cfg = self.context.config
        try:
            found = self.context.client.search_model_versions(
                f"name = '{cfg.name}'", max_results=200, order_by=["version_number DESC"])
        except MlflowException:
            return None
        for mv in found:
            version_tags = dict(mv.tags or {})
            if version_tags.get(tags.ONLINE_CHECKPOINT) != "true":
                continue
            loaded = self.scorer_of(str(mv.version)).estimator
            check_learner(loaded, f"checkpoint v{mv.version}")
            learner = Learner.from_bytes(loaded.to_bytes())  # its own copy: the cached scorer stays as it was
            self.previous = (str(mv.version), str(mv.run_id))
            return Restored(str(mv.version), str(mv.run_id), learner, int(version_tags.get(tags.ONLINE_EVENTS, "0")),
                            json.loads(version_tags.get(tags.ONLINE_OFFSETS, "{}")))
        return None


def _metrics(y: np.ndarray, predicted: Any, proba: Any, classes: Any, task: str) -> dict[str, float]:
    truth = np.asarray(y.tolist()) if task == "classification" else np.asarray(y, dtype=np.float64)
    known = None if classes is None else list(np.asarray(classes).tolist())
    return task_metrics(truth, np.asarray(predicted), task, proba, known)
