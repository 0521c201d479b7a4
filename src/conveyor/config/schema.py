"""The conveyor.yaml schema: one model per file, validated by pydantic."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conveyor.config.thresholds import Threshold

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
ENTRYPOINT_PATTERN = re.compile(r"^(?P<module>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SplitSpec(Strict):
    method: Literal["random", "time"] = "random"
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    column: str | None = None
    stratify: bool = True

    @model_validator(mode="after")
    def _time_needs_column(self) -> "SplitSpec":
        if self.method == "time" and not self.column:
            raise ValueError("split method 'time' needs 'column' (the timestamp to order by)")
        return self


class DataSpec(Strict):
    train: str
    format: Literal["csv", "parquet"] | None = None
    split: SplitSpec = SplitSpec()


class FeatureSpec(Strict):
    numeric: list[str] = []
    categorical: list[str] = []
    sensitive: list[str] = []

    @model_validator(mode="after")
    def _has_inputs(self) -> "FeatureSpec":
        if not self.numeric and not self.categorical:
            raise ValueError("list at least one numeric or categorical feature")
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"columns listed as both numeric and categorical: {sorted(overlap)}")
        return self

    @property
    def inputs(self) -> list[str]:
        """Model input columns, in config order (sensitive ones only if also listed)."""
        return [*self.numeric, *self.categorical]


def _check_entrypoint(value: str) -> str:
    if not ENTRYPOINT_PATTERN.match(value):
        raise ValueError(f"{value!r} is not of the form 'module.py:function'")
    return value


class TrainSpec(Strict):
    entrypoint: str
    params: dict[str, Any] = {}
    evaluate: str | None = None

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_form(cls, value: str) -> str:
        return _check_entrypoint(value)

    @field_validator("evaluate")
    @classmethod
    def _evaluate_form(cls, value: str | None) -> str | None:
        return None if value is None else _check_entrypoint(value)


class ChampionSpec(Strict):
    stage: str = "prod"
    max_drop: float = Field(0.01, ge=0.0)
    metrics: list[str] | None = None


class GateSpec(Strict):
    metrics: dict[str, Threshold] = {}
    champion: ChampionSpec | None = ChampionSpec()
    fairness: dict[str, Threshold] = {}

    @field_validator("champion", mode="before")
    @classmethod
    def _champion_off(cls, value: Any) -> Any:
        return None if value is False else value


class SparkSpec(Strict):
    """`runtime.spark`: how the Spark batch engine builds its session."""

    master: str | None = None
    app_name: str | None = None
    driver_memory: str | None = None
    executor_memory: str | None = None
    executor_instances: int | None = Field(None, ge=1)
    executor_cores: int | None = Field(None, ge=1)
    conf: dict[str, str | int | float | bool] = {}


class RuntimeSpec(Strict):
    """`runtime`: the Python and engine settings jobs run with."""

    python: str | None = None
    requirements: list[str] = []
    spark: SparkSpec | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """Mapping-style read, kept for code written when `runtime` was a plain dict."""
        value = getattr(self, key, None)
        return default if value is None else value


class EndpointSpec(Strict):
    """`batch.endpoint`: limits for `--via-endpoint` scoring."""

    concurrency: int = Field(4, ge=1)
    retries: int = Field(3, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    rows_per_request: int | None = Field(None, ge=1)


class BatchSpec(Strict):
    """`batch`: defaults for `conveyor predict` and the user's pipeline hooks."""

    input: str | None = None
    output: str | None = None
    schedule: str | None = None
    format: Literal["csv", "parquet"] | None = None
    batch_size: int = Field(65_536, ge=1)
    workers: int | None = Field(None, ge=1)
    on_bad_rows: Literal["fail", "reject"] = "fail"
    keep: list[str] | None = None
    preprocess: str | None = None
    score: str | None = None
    postprocess: str | None = None
    storage_options: dict[str, Any] = {}
    endpoint: EndpointSpec = EndpointSpec()

    @field_validator("preprocess", "score", "postprocess")
    @classmethod
    def _hook_form(cls, value: str | None) -> str | None:
        return None if value is None else _check_entrypoint(value)

    @field_validator("schedule")
    @classmethod
    def _cron_form(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a 5-field cron expression")
        return value


class DriftSpec(Strict):
    """`monitor.drift`: how data drift is decided (see conveyor.monitoring.drift)."""

    method: Literal["default", "evidently", "psi"] = "default"
    threshold: float | None = Field(None, gt=0)  # distance threshold; None = the method's
    share: float = Field(0.5, gt=0, le=1)  # dataset drift when this share of features drift
    alpha: float | None = Field(None, gt=0, lt=1)  # p-value threshold of the tests
    min_rows: int = Field(30, ge=1)  # fewer values: no verdict
    small_sample: int = Field(1000, ge=0)  # fewer values: exact tests on raw data


class PerformanceSpec(Strict):
    """`monitor.performance`: the metric watched on labelled data and its tolerance."""

    metric: str | None = None  # default: roc_auc (classification) or rmse (regression)
    tolerance: float = Field(0.05, ge=0)


class MonitorSpec(Strict):
    """`monitor`: drift, performance and fairness checks and what happens on drift."""

    schedule: str | None = None
    window: str | None = None  # default --window, e.g. "24h"
    stage: str | None = None  # the version to watch; default: the last stage with a holder
    drift: DriftSpec = DriftSpec()
    performance: PerformanceSpec = PerformanceSpec()
    fairness: dict[str, Threshold] | None = None  # default: gate.fairness
    on_drift: list[Literal["alert", "retrain"]] = []
    webhook: str | None = None  # alert: POST the JSON summary here
    auto_promote: bool = False  # retrain: promote the new version through every stage


class EnvironmentSpec(Strict):
    """One stand's stack; anything left out falls back to the embedded default."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    artifact_store: str | None = None
    broker: str | None = None
    spark_master: str | None = None


class ProjectConfig(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    task: Literal["classification", "regression"]
    target: str
    data: DataSpec
    features: FeatureSpec
    train: TrainSpec
    gate: GateSpec = GateSpec()
    stages: list[str] = ["dev", "staging", "prod"]
    environments: dict[str, EnvironmentSpec] = {}
    # Sections owned by later features; accepted so one file serves every command.
    serve: dict[str, Any] | None = None
    batch: BatchSpec | None = None
    monitor: MonitorSpec = MonitorSpec()
    runtime: RuntimeSpec | None = None

    @field_validator("monitor", mode="before")
    @classmethod
    def _monitor_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("stages")
    @classmethod
    def _stages_valid(cls, stages: list[str]) -> list[str]:
        if not stages:
            raise ValueError("at least one stage is needed")
        if len(set(stages)) != len(stages):
            raise ValueError(f"stages must be unique, got {stages}")
        for stage in stages:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", stage) or stage.isdigit():
                raise ValueError(f"stage {stage!r} is not a valid MLflow alias name")
        return stages

    @model_validator(mode="after")
    def _cross_checks(self) -> "ProjectConfig":
        if self.target in self.features.inputs:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if self.monitor.stage is not None and self.monitor.stage not in self.stages:
            raise ValueError(f"monitor.stage {self.monitor.stage!r} is not one of stages {self.stages}")
        champion = self.gate.champion
        if champion is not None and champion.stage not in self.stages:
            raise ValueError(
                f"gate.champion.stage {champion.stage!r} is not one of stages {self.stages}"
            )
        return self
