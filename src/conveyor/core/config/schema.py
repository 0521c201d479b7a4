"""The conveyor.yaml schema: one model per file, validated by pydantic."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from conveyor.core.config.cron import Cron, TimeZone
from conveyor.core.config.thresholds import Threshold

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
ENTRYPOINT_PATTERN = re.compile(r"^(?P<module>[^:]+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")

# Settings that belong to features not built yet: what will read each one. The loader rejects
# them with their line, so a schedule or a broker is never silently ignored. A feature that
# starts reading one adds the field to its spec below and removes it here. ``*`` matches any key.
NOT_READ_YET: Mapping[tuple[str, ...], str] = MappingProxyType({
    ("environments", "*", "broker"): "the stream scorer (`conveyor stream`)",
})


# The fairness metrics a gate or monitor may limit, per task (computed in lifecycle/metrics.py).
FAIRNESS_BY_TASK: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "classification": ("demographic_parity_difference", "demographic_parity_ratio",
                       "equalized_odds_difference"),
    "regression": (
        "mean_prediction_difference",  # largest gap between groups' mean predictions
        "mae_difference",  # largest gap between groups' mean absolute errors
    ),
})


def _fairness_for_task(limits: dict[str, Any] | None, task: str | None, where: str) -> None:
    """Refuse a fairness limit the task does not compute (it would never be checked)."""
    if not limits or task is None or task not in FAIRNESS_BY_TASK:
        return
    allowed = FAIRNESS_BY_TASK[task]
    for metric in limits:
        if metric not in allowed:
            others = [t for t, names in FAIRNESS_BY_TASK.items() if metric in names]
            kind = f"a {others[0]} metric" if others else "not a fairness metric"
            raise ValueError(
                f"{where}.{metric} is {kind}; a {task} model is checked with {', '.join(allowed)}"
            )


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
    def _time_needs_column(self) -> SplitSpec:
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
    def _has_inputs(self) -> FeatureSpec:
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
    schedule: Cron | None = None  # `conveyor scheduler`: train → gate on this cron

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
    """`runtime`: the requirements and engine settings jobs run with."""

    requirements: list[str] = []
    python: str | None = Field(None, pattern=r"^3\.[0-9]+$")  # packs: default this interpreter's
    spark: SparkSpec | None = None

    @field_validator("python", mode="before")
    @classmethod
    def _python_text(cls, value: Any) -> Any:
        if isinstance(value, float):  # YAML reads 3.10 as 3.1: only a string says it right
            raise ValueError(f"write the Python version as a quoted string, e.g. '3.11' (got {value})")  # noqa: TRY004 - pydantic reports ValueError
        return value


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
    # `conveyor scheduler`: score batch.input on this cron, each slot into its own partition
    schedule: Cron | None = None
    stage: str | None = None  # the stage a scheduled run scores; default: the last stage

    @field_validator("preprocess", "score", "postprocess")
    @classmethod
    def _hook_form(cls, value: str | None) -> str | None:
        return None if value is None else _check_entrypoint(value)

    @model_validator(mode="after")
    def _scheduled_needs_paths(self) -> BatchSpec:
        if self.schedule is not None and not (self.input and self.output):
            raise ValueError("batch.schedule needs batch.input and batch.output (what to score, where)")
        return self


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
    # chance that a window from the training population raises a performance alarm
    false_alarm_rate: float = Field(0.05, gt=0, lt=1)


MonitorSignal = Literal["data", "prediction", "performance", "fairness", "target"]
DEFAULT_FAIL_ON: tuple[MonitorSignal, ...] = ("data", "prediction", "performance")


class RetrainDataSpec(Strict):
    """`monitor.retrain`: where a retrain asked for by monitoring reads its data."""

    # training: the configured data.train; window: the labelled rows of the monitored window;
    # both: the training data with the window's rows appended
    data: Literal["training", "window", "both"] = "training"
    max_rows: int | None = Field(None, ge=1)  # keep the newest rows only (window rows come last)


class MonitorSpec(Strict):
    """`monitor`: drift, performance and fairness checks and what happens on drift."""

    window: str | None = None  # default --window, e.g. "24h"
    stage: str | None = None  # the version to watch; default: the last stage with a holder
    drift: DriftSpec = DriftSpec()
    performance: PerformanceSpec = PerformanceSpec()
    fairness: dict[str, Threshold] | None = None  # default: gate.fairness
    # the signals whose drift makes the verdict "drift" (the others are reported only)
    fail_on: list[MonitorSignal] = list(DEFAULT_FAIL_ON)
    on_drift: list[Literal["alert", "retrain"]] = []
    webhook: str | None = None  # alert: POST the JSON summary here
    auto_promote: bool = False  # retrain: promote the new version through every stage
    retrain: RetrainDataSpec = RetrainDataSpec()
    storage_options: dict[str, Any] = {}  # fsspec options for --data URLs (as batch.storage_options)
    schedule: Cron | None = None  # `conveyor scheduler`: monitor (→ retrain on drift) on this cron
    data: str | None = None  # what a run without --data/--window checks; default: monitor.window

    @model_validator(mode="after")
    def _scheduled_needs_data(self) -> MonitorSpec:
        if self.schedule is not None and not (self.data or self.window):
            raise ValueError(
                "monitor.schedule needs monitor.data (a file, folder or glob to check) or "
                "monitor.window (captured traffic, e.g. 24h)"
            )
        return self


DEPLOYMENT_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
ROLES = ("predict", "feedback", "deploy", "admin")


class DeploymentSpec(Strict):
    """`serve.deployments.NAME`: what a deployment serves — a stage alias or a fixed version."""

    stage: str | None = None
    version: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return None if value is None else str(value).lstrip("v")

    @model_validator(mode="after")
    def _one_target(self) -> DeploymentSpec:
        if (self.stage is None) == (self.version is None):
            raise ValueError("a deployment names exactly one of 'stage' or 'version'")
        return self


class ShadowSpec(Strict):
    """`serve.shadow`: mirror a share of requests to a deployment whose answer is discarded."""

    deployment: str
    share: float = Field(1.0, gt=0, le=1)


class CaptureSpec(Strict):
    """`serve.capture`: sampled request/response capture for monitoring."""

    sample: float = Field(0.1, ge=0, le=1)
    flush_s: float = Field(2.0, gt=0)
    max_rows: int = Field(100_000, ge=1)  # in-memory bound; past it rows are dropped and counted


class BatchingSpec(Strict):
    """`serve.batching`: dynamic micro-batching per deployment."""

    max_batch: int = Field(64, ge=1)  # rows per model call
    max_wait_ms: float = Field(0.0, ge=0)  # 0: batch only what is already queued


class LimitsSpec(Strict):
    """`serve.limits`: bounds that keep a spike from taking the server down."""

    max_body_bytes: int = Field(1_048_576, ge=1)
    max_rows: int = Field(10_000, ge=1)  # rows per request
    queue: int = Field(256, ge=1)  # requests waiting per deployment; past it: 429
    # the latency budget: a request still in a deployment's queue after this is answered 503 then
    timeout_s: float = Field(0.5, gt=0)
    # prediction requests in flight per worker process, every model and deployment together;
    # past it: 503 + Retry-After at once, before the body is read
    max_in_flight: int = Field(128, ge=1)
    retry_after_s: int = Field(1, ge=0)


class TokenSpec(Strict):
    """One bearer token: `sha256` (hex digest, preferred at rest) or `token` (e.g. ${ENV})."""

    name: str
    roles: list[Literal["predict", "feedback", "deploy", "admin"]] = ["predict"]
    sha256: str | None = Field(None, pattern=r"^(sha256:)?[0-9a-fA-F]{64}$")
    token: str | None = Field(None, repr=False, exclude=True)

    @model_validator(mode="after")
    def _hash_token(self) -> TokenSpec:
        import hashlib

        if (self.sha256 is None) == (self.token is None):
            raise ValueError(f"token {self.name!r} needs exactly one of 'sha256' or 'token'")
        if self.token is not None:
            self.sha256 = hashlib.sha256(self.token.encode()).hexdigest()
            self.token = None  # only the digest is kept in memory
        else:
            self.sha256 = self.sha256.removeprefix("sha256:").lower()  # type: ignore[union-attr]
        return self


class AuthSpec(Strict):
    """`serve.auth`: bearer tokens with roles; admin endpoints always need one."""

    tokens: list[TokenSpec] = []
    predict: bool = False  # require a predict token on prediction endpoints


class RolloutSpec(Strict):
    """`serve.rollout`: how `conveyor rollout` judges a candidate against the champion."""

    max_error_rate_increase: float = Field(0.01, ge=0)  # absolute, e.g. 0.01 = +1 point
    max_p95_ratio: float = Field(1.5, ge=1)  # candidate p95 <= champion p95 * this
    min_requests: int = Field(20, ge=1)  # per side before a verdict


class ServeSpec(Strict):
    """`serve`: the endpoint's deployments, traffic split and limits."""

    deployments: dict[str, DeploymentSpec] = {}
    traffic: dict[str, float] = {}  # deployment -> weight; empty: the highest held stage
    shadow: ShadowSpec | None = None
    sticky_header: str = "X-Conveyor-Key"
    capture: CaptureSpec = CaptureSpec()
    batching: BatchingSpec = BatchingSpec()
    limits: LimitsSpec = LimitsSpec()
    auth: AuthSpec = AuthSpec()
    rollout: RolloutSpec = RolloutSpec()
    poll_s: float = Field(10.0, gt=0)  # registry poll interval for alias moves
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int | None = Field(None, ge=1)  # default: one per CPU core

    @field_validator("traffic")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"traffic weight of {name!r} must be a finite number >= 0, not {weight}")
            if not re.match(DEPLOYMENT_PATTERN, name):
                raise ValueError(f"{name!r} is not a valid deployment name")
        total = sum(value.values())
        if value and total <= 0:
            raise ValueError("traffic weights must not all be zero")
        if not math.isfinite(total):
            raise ValueError("traffic weights are too large: their sum overflows (use e.g. 90 and 10)")
        return value


class SchedulerSpec(Strict):
    """`scheduler`: how `conveyor scheduler` runs the pipelines that have a `schedule`."""

    timezone: TimeZone = "UTC"  # the zone the cron fields are read in
    # slots missed by more than grace_s (downtime): skip them, run the latest once, or run all
    catch_up: Literal["skip", "latest", "all"] = "latest"
    grace_s: float = Field(300.0, ge=0)  # a slot started at most this late is on time
    retries: int = Field(2, ge=0)  # further attempts of a failing step
    backoff_s: float = Field(30.0, ge=0)  # wait before the first retry; doubled for each next
    lease_s: float = Field(300.0, ge=10)  # a crashed scheduler's leases expire after this


class EnvironmentSpec(Strict):
    """One stand's stack; anything left out falls back to the embedded default."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    artifact_store: str | None = None
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
    serve: ServeSpec = ServeSpec()
    batch: BatchSpec | None = None
    monitor: MonitorSpec = MonitorSpec()
    runtime: RuntimeSpec | None = None
    scheduler: SchedulerSpec = SchedulerSpec()

    @field_validator("monitor", "serve", "scheduler", mode="before")
    @classmethod
    def _monitor_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("gate")
    @classmethod
    def _gate_fairness(cls, gate: GateSpec, info: ValidationInfo) -> GateSpec:
        _fairness_for_task(gate.fairness, info.data.get("task"), "gate.fairness")
        return gate

    @field_validator("monitor")
    @classmethod
    def _monitor_fairness(cls, monitor: MonitorSpec, info: ValidationInfo) -> MonitorSpec:
        _fairness_for_task(monitor.fairness, info.data.get("task"), "monitor.fairness")
        return monitor

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
    def _cross_checks(self) -> ProjectConfig:
        if self.target in self.features.inputs:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if self.monitor.stage is not None and self.monitor.stage not in self.stages:
            raise ValueError(f"monitor.stage {self.monitor.stage!r} is not one of stages {self.stages}")
        self._check_serve()
        self._check_batch_schedule()
        champion = self.gate.champion
        if champion is not None and champion.stage not in self.stages:
            raise ValueError(
                f"gate.champion.stage {champion.stage!r} is not one of stages {self.stages}"
            )
        return self

    def _check_batch_schedule(self) -> None:
        batch = self.batch
        if batch is None:
            return
        if batch.stage is not None and batch.stage not in self.stages:
            raise ValueError(f"batch.stage {batch.stage!r} is not one of stages {self.stages}")

    def _check_serve(self) -> None:
        """Every deployment named in serve.traffic/shadow must be a stage, vN, or declared."""
        serve = self.serve
        named = list(serve.traffic) + ([serve.shadow.deployment] if serve.shadow else [])
        for name in named:
            if name not in serve.deployments and name not in self.stages and not re.match(r"^v\d+$", name):
                raise ValueError(
                    f"serve: deployment {name!r} is not a stage {self.stages}, a version (v3) "
                    "or an entry of serve.deployments"
                )
        for name, spec in serve.deployments.items():
            if spec.stage is not None and spec.stage not in self.stages:
                raise ValueError(f"serve.deployments.{name}.stage {spec.stage!r} is not one of {self.stages}")
