"""The training pipeline: load → split → train → evaluate → log → gate → register → alias."""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.config.loader import LoadedConfig
from conveyor.errors import ConveyorError, GateFailedError, TrainingError
from conveyor.lifecycle import tags
from conveyor.lifecycle.data import check_columns, load_dataset, split_dataset
from conveyor.lifecycle.entrypoint import load_entrypoint
from conveyor.lifecycle.gate import Champion, Verdict, evaluate_gate
from conveyor.lifecycle.metrics import PRIMARY_METRIC, evaluate_model, fairness_metrics
from conveyor.lifecycle.progress import Reporter, SilentReporter
from conveyor.lifecycle.promotion import Promoter
from conveyor.lifecycle.registry import Registry

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

MODEL_ARTIFACT = "model"


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


class TrainingPipeline:
    def __init__(
        self,
        loaded: LoadedConfig,
        client: MlflowClient,
        registry: Registry,
        promoter: Promoter,
        mlflow_artifact_root: str,
        reporter: Reporter | None = None,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.client = client
        self.registry = registry
        self.promoter = promoter
        self.artifact_root = mlflow_artifact_root
        self.reporter = reporter or SilentReporter()

    def run(self, extra_tags: dict[str, str] | None = None) -> TrainResult:
        import mlflow

        cfg = self.config
        project_dir = self.loaded.project_dir
        step = self.reporter.step

        with step("load data"):
            dataset = load_dataset(cfg.data, project_dir)
            check_columns(dataset.frame, cfg.target, cfg.features, dataset.source)
        with step("split"):
            split = split_dataset(dataset.frame, cfg.target, cfg.features, cfg.data, cfg.task)
        with step("import entrypoint"):
            train_fn = load_entrypoint(cfg.train.entrypoint, project_dir)
            evaluate_fn = (
                load_entrypoint(cfg.train.evaluate, project_dir) if cfg.train.evaluate else None
            )

        from conveyor.lifecycle.tracking import ensure_experiment

        experiment_id = ensure_experiment(self.client, cfg.name, self.artifact_root)
        run_tags = {
            tags.MODEL: cfg.name,
            tags.ENVIRONMENT: self.loaded.env_name or "default",
            tags.PIPELINE: "train",
            tags.DATA_SHA256: dataset.fingerprint["sha256"],
            tags.DATA_ROWS: str(dataset.fingerprint["rows"]),
            **_git_tags(project_dir),
            **(extra_tags or {}),
        }
        with mlflow.start_run(experiment_id=experiment_id, tags=run_tags) as run:
            run_id = run.info.run_id
            try:
                result = self._tracked(mlflow, run_id, dataset.fingerprint, split, train_fn, evaluate_fn, run_tags)
            except BaseException:
                mlflow.end_run(status="FAILED")
                raise
        if not result.verdict.passed:
            raise GateFailedError(
                f"version {result.version} of {cfg.name!r} failed the quality gate",
                version=result.version,
                reasons=result.verdict.reasons,
            )
        return result

    def _tracked(
        self,
        mlflow: Any,
        run_id: str,
        fingerprint: dict[str, Any],
        split: Any,
        train_fn: Any,
        evaluate_fn: Any,
        run_tags: dict[str, str],
    ) -> TrainResult:
        cfg = self.config
        step = self.reporter.step
        params = dict(cfg.train.params)
        with step("log inputs"):
            mlflow.log_params(
                {
                    # A ${SECRET} in train.params reaches the user's code, never MLflow.
                    **{f"param.{k}": self.loaded.secrets.redact(str(v)) for k, v in params.items()},
                    "split.method": cfg.data.split.method,
                    "split.test_size": cfg.data.split.test_size,
                    "split.seed": cfg.data.split.seed,
                    "train.rows": len(split.X_train),
                    "test.rows": len(split.X_test),
                }
            )
            mlflow.log_text(self.loaded.snapshot(), "conveyor/config.yaml")
            mlflow.log_dict(fingerprint, "conveyor/data_fingerprint.json")

        with step("train"):
            model = _call_user(train_fn, "user train function", split.X_train, split.y_train, params)
        with step("evaluate"):
            metrics = _call_user(evaluate_model, "model evaluation", model, split.X_test, split.y_test, cfg.task)
            if evaluate_fn is not None:
                extra = _call_user(evaluate_fn, "user evaluate function", model, split.X_test, split.y_test)
                metrics.update({str(k): float(v) for k, v in dict(extra or {}).items()})
            fairness: dict[str, dict[str, float]] = {}
            if cfg.features.sensitive and cfg.task == "classification":
                fairness = fairness_metrics(split.y_test, model.predict(split.X_test), split.sensitive_test)
            mlflow.log_metrics(metrics)
            for column, values in fairness.items():
                mlflow.log_metrics({f"fairness.{column}.{k}": v for k, v in values.items()})

        with step("log model"):
            model_info = self._log_model(mlflow, model, split.X_train, train_fn)
        with step("inference plan"):  # lets scoring jobs skip scikit-learn (conveyor.inference)
            from conveyor.inference.artifact import log_plan

            log_plan(mlflow, model)
        with step("baseline profile"):  # what monitoring compares new data with
            from conveyor.monitoring.baseline import log_baseline

            log_baseline(mlflow, cfg, split, model, metrics)

        with step("quality gate"):
            champion = self._score_champion(split.test_frame, split.y_test)
            compared = (cfg.gate.champion.metrics if cfg.gate.champion else None) or [
                PRIMARY_METRIC[cfg.task]
            ]
            verdict = evaluate_gate(
                cfg.gate, metrics, champion=champion, champion_metrics=compared, fairness=fairness
            )
            mlflow.set_tag(tags.GATE, verdict.status)

        with step("register"):
            self.registry.ensure_model(cfg.name)
            version_tags = {
                tags.GATE: verdict.status,
                tags.GATE_REASONS: json.dumps(verdict.reasons),
                tags.GATE_CHECKS: json.dumps([c.detail for c in verdict.checks]),
                **{k: v for k, v in run_tags.items() if k != tags.MODEL},
            }
            mv = self.client.create_model_version(
                cfg.name,
                source=model_info.model_uri,
                run_id=run_id,
                tags=version_tags,
                model_id=model_info.model_id,
            )
            version = str(mv.version)
            alias = None
            if verdict.passed:
                alias = cfg.stages[0]
                self.promoter.promote(
                    cfg.name, alias, version, action="train", reason="passed the quality gate"
                )
        return TrainResult(cfg.name, version, run_id, metrics, verdict, alias, champion, fairness)

    def _log_model(self, mlflow: Any, model: Any, X_train: pd.DataFrame, train_fn: Any) -> Any:
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
        return mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=example,
            serialization_format="cloudpickle",
            pip_requirements=self._requirements(),
        )

    def _requirements(self) -> list[str]:
        """Pinned from this interpreter; MLflow is never asked to infer them (slow)."""
        from importlib.metadata import PackageNotFoundError, version

        pins = []
        for package in ("scikit-learn", "pandas", "numpy", "scipy", "cloudpickle"):
            try:
                pins.append(f"{package}=={version(package)}")
            except PackageNotFoundError:
                continue
        extra = self.config.runtime.requirements if self.config.runtime else []
        return [*pins, *[str(r) for r in extra]]

    def _score_champion(self, test_rows: pd.DataFrame, y_test: pd.Series) -> Champion | None:
        """Score the stage holder on the same test rows, with the columns it was trained on."""
        spec = self.config.gate.champion
        if spec is None:
            return None
        name = self.config.name
        try:
            holder = self.registry.alias_holder(name, spec.stage)
        except ConveyorError:
            return None  # first version of a new model
        if holder is None:
            return None
        champion = Champion(stage=spec.stage, version=holder)
        try:
            import mlflow

            uri = f"models:/{name}/{holder}"
            signature = mlflow.models.get_model_info(uri).signature
            columns = (
                signature.inputs.input_names() if signature is not None else self.config.features.inputs
            )
            model = mlflow.sklearn.load_model(uri)
            champion.metrics = evaluate_model(model, test_rows[columns], y_test, self.config.task)
        except Exception as exc:  # noqa: BLE001 - any failure is reported as a gate note
            champion.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return champion


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

