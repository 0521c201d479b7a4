"""The baseline profile of a model version: computed at training time, stored as a run
artifact, loaded (or recomputed from the logged training data) when monitoring."""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.capture import PREDICTION, SCORE
from conveyor.core.errors import BaselineMissingError
from conveyor.profiles import DatasetProfile, Profiler, Role

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from conveyor.core.config.schema import ProjectConfig

BASELINE_ARTIFACT = "conveyor/baseline_profile.json"
BASELINE_SAMPLE = 1000
BASELINE_TAG = "conveyor.baseline"
log = logging.getLogger("conveyor.monitoring")


def model_outputs(model: Any, X: pd.DataFrame, task: str) -> dict[str, np.ndarray]:
    """The prediction columns profiled next to the features: the label (or value) and, for
    binary classifiers with predict_proba, the positive-class probability."""
    predictions = np.asarray(model.predict(X))
    out = {PREDICTION: predictions}
    if task == "classification" and hasattr(model, "predict_proba"):
        classes = list(getattr(model, "classes_", []))
        if len(classes) == 2:
            proba = np.asarray(model.predict_proba(X))
            out[SCORE] = proba[:, classes.index(max(classes))]
    return out


def profiler_for(config: ProjectConfig, with_score: bool) -> Profiler:
    """The columns a baseline profiles: features, model outputs and the target."""
    roles: dict[str, Role] = {PREDICTION: "prediction", SCORE: "prediction", config.target: "target"}
    numeric = list(config.features.numeric)
    categorical = list(config.features.categorical)
    if config.task == "classification":
        categorical += [PREDICTION, config.target]
    else:
        numeric += [PREDICTION, config.target]
    if with_score:
        numeric.append(SCORE)
    return Profiler(numeric, categorical, roles=roles)


def build_baseline(
    config: ProjectConfig,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    model: Any,
    metrics: dict[str, float],
) -> DatasetProfile:
    frame = X_train.copy()
    outputs = model_outputs(model, X_train, config.task)
    for name, values in outputs.items():
        frame[name] = values
    frame[config.target] = y_train.to_numpy()
    profiler = profiler_for(config, with_score=SCORE in outputs).fit(frame)
    profile = profiler.profile(frame, sample=BASELINE_SAMPLE)
    profile.unexpected = []
    profile.metrics = {k: float(v) for k, v in metrics.items()}
    profile.meta = {
        "model": config.name,
        "task": config.task,
        "target": config.target,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return profile


def log_baseline(mlflow: Any, config: ProjectConfig, split: Any, model: Any, metrics: dict[str, float]) -> None:
    """Called by the training pipeline after the model is logged. Never fails training:
    a profiling error is logged and tagged, and monitoring recomputes the baseline later."""
    try:
        profile = build_baseline(config, split.X_train, split.y_train, model, metrics)
        profile.meta["columns"] = [str(c) for c in getattr(split, "test_frame", split.X_train).columns]
        profile.meta["test_rows"] = len(split.X_test)  # the baseline metrics' sample size
        mlflow.log_dict(profile.to_dict(), BASELINE_ARTIFACT)
        mlflow.set_tag(BASELINE_TAG, BASELINE_ARTIFACT)
    except Exception as exc:  # noqa: BLE001 - monitoring must not break training
        log.warning("baseline profile not computed: %s: %s", type(exc).__name__, exc)
        mlflow.set_tag(BASELINE_TAG, f"error: {type(exc).__name__}: {exc}"[:500])


def load_baseline(client: MlflowClient, run_id: str) -> DatasetProfile | None:
    """The baseline logged with a training run, or None if that run has none."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, BASELINE_ARTIFACT, folder)
        except Exception:  # noqa: BLE001 - absent artifact (old version) or unreadable store
            return None
        return DatasetProfile.from_dict(json.loads(Path(path).read_text()))


def recompute_baseline(
    client: MlflowClient, run_id: str, config: ProjectConfig, project_dir: Path, model: Any
) -> DatasetProfile:
    """Rebuild a missing baseline from the training data the run logged (same file, same
    SHA-256), and log it to the run so the next monitor finds it."""
    from conveyor.core.errors import ConveyorError
    from conveyor.lifecycle.data import load_dataset, split_dataset

    fingerprint = _fingerprint(client, run_id)
    why = "it logged no data fingerprint"
    if fingerprint is not None:
        source = fingerprint.get("source", "")
        try:
            spec = config.data.model_copy(update={"train": source})
            dataset = load_dataset(spec, project_dir)
        except ConveyorError as exc:
            why = f"its training data {source} cannot be read ({exc.message})"
        else:
            if dataset.fingerprint["sha256"] != fingerprint.get("sha256"):
                why = f"its training data {source} has changed since (SHA-256 differs)"
            else:
                split = split_dataset(dataset.frame, config.target, config.features, spec, config.task)
                metrics = dict(client.get_run(run_id).data.metrics)
                profile = build_baseline(config, split.X_train, split.y_train, model, metrics)
                profile.meta["recomputed"] = True
                profile.meta["columns"] = [str(c) for c in dataset.frame.columns]
                client.log_dict(run_id, profile.to_dict(), BASELINE_ARTIFACT)
                client.set_tag(run_id, BASELINE_TAG, BASELINE_ARTIFACT)
                return profile
    raise BaselineMissingError(
        f"run {run_id} has no baseline profile and it cannot be recomputed: {why}",
        hint="retrain the model (`conveyor train`) so the new version carries its baseline",
    )


def _fingerprint(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "conveyor/data_fingerprint.json", folder)
        except Exception:  # noqa: BLE001
            return None
        loaded: dict[str, Any] = json.loads(Path(path).read_text())
        return loaded
