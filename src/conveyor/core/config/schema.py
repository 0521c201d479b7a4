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
NOT_READ_YET: Mapping[tuple[str, ...], str] = MappingProxyType({})


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
    """`data.split`: how the training data is split into train and test rows."""

    method: Literal["random", "time"] = Field(
        "random", description="How test rows are held out: at random, or the latest rows by `column`."
    )
    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="Share of the rows held out for the gate.")
    seed: int = Field(42, description="Seed of the random split.")
    column: str | None = Field(None, description="The timestamp column a `time` split orders by.")
    stratify: bool = Field(True, description="Keep class shares equal in both parts (classification, random split).")

    @model_validator(mode="after")
    def _time_needs_column(self) -> SplitSpec:
        if self.method == "time" and not self.column:
            raise ValueError("split method 'time' needs 'column' (the timestamp to order by)")
        return self


class DataSpec(Strict):
    """`data`: where the training data is."""

    train: str = Field(
        description="The training table: a CSV or Parquet file, folder or glob; a local path "
        "(relative to the project) or an fsspec URL."
    )
    format: Literal["csv", "parquet"] | None = Field(None, description="File format; default: from the file names.")
    split: SplitSpec = Field(SplitSpec(), description="How test rows are held out.")


class FeatureSpec(Strict):
    """`features`: the model's input columns and the groups fairness compares."""

    numeric: list[str] = Field([], description="Numeric input columns.")
    categorical: list[str] = Field([], description="Categorical input columns.")
    sensitive: list[str] = Field(
        [], description="Columns whose groups fairness compares; not model inputs unless also listed above."
    )

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
    """`train`: the user's training code."""

    entrypoint: str = Field(description="`module.py:function` called as `train(X, y, params)`, returning a fitted estimator.")
    params: dict[str, Any] = Field({}, description="Passed to the train function as `params` (logged as run params).")
    evaluate: str | None = Field(
        None, description="`module.py:function` called as `evaluate(model, X_test, y_test)`, returning extra metrics."
    )
    schedule: Cron | None = Field(None, description="`conveyor scheduler`: train → gate on this cron.")

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint_form(cls, value: str) -> str:
        return _check_entrypoint(value)

    @field_validator("evaluate")
    @classmethod
    def _evaluate_form(cls, value: str | None) -> str | None:
        return None if value is None else _check_entrypoint(value)


class ChampionSpec(Strict):
    """`gate.champion`: the candidate against the stage's holder, on the same test rows."""

    stage: str = Field("prod", description="The stage whose holder is the champion.")
    max_drop: float = Field(0.01, ge=0.0, description="How much worse than the champion a metric may be.")
    metrics: list[str] | None = Field(None, description="Metrics compared; default: roc_auc (classification) or rmse (regression).")


class GateSpec(Strict):
    """`gate`: what a version must meet to be registered with an alias."""

    metrics: dict[str, Threshold] = Field(
        {}, description='Metric thresholds, e.g. `roc_auc: ">= 0.80"` (accuracy, f1, roc_auc; rmse, mae, r2; '
        "or a metric train.evaluate returns)."
    )
    champion: ChampionSpec | None = Field(ChampionSpec(), description="Champion/challenger check; `false` turns it off.")
    fairness: dict[str, Threshold] = Field(
        {}, description="Fairness limits per features.sensitive column: demographic_parity_difference, "
        "demographic_parity_ratio, equalized_odds_difference."
    )

    @field_validator("champion", mode="before")
    @classmethod
    def _champion_off(cls, value: Any) -> Any:
        return None if value is False else value


class SparkSpec(Strict):
    """`runtime.spark`: how the Spark engines (batch scoring, monitoring) build their session."""

    master: str | None = Field(None, description="Spark master URL; default: the environment's spark_master, else local.")
    app_name: str | None = Field(None, description="Spark application name.")
    driver_memory: str | None = Field(None, description="spark.driver.memory, e.g. `2g`.")
    executor_memory: str | None = Field(None, description="spark.executor.memory, e.g. `4g`.")
    executor_instances: int | None = Field(None, ge=1, description="spark.executor.instances.")
    executor_cores: int | None = Field(None, ge=1, description="spark.executor.cores.")
    conf: dict[str, str | int | float | bool] = Field({}, description="Any other Spark settings.")


class RuntimeSpec(Strict):
    """`runtime`: the requirements and engine settings jobs run with."""

    requirements: list[str] = Field([], description="Extra pip requirements logged with the model.")
    python: str | None = Field(
        None, pattern=r"^3\.[0-9]+$",
        description='The Python of the environment packs, quoted ("3.11"); default: this interpreter\'s.',
    )
    spark: SparkSpec | None = Field(None, description="Spark session settings of the Spark engines (batch scoring, monitoring).")

    @field_validator("python", mode="before")
    @classmethod
    def _python_text(cls, value: Any) -> Any:
        if isinstance(value, float):  # YAML reads 3.10 as 3.1: only a string says it right
            raise ValueError(f"write the Python version as a quoted string, e.g. '3.11' (got {value})")  # noqa: TRY004 - pydantic reports ValueError
        return value


class EndpointSpec(Strict):
    """`batch.endpoint`: limits for `--via-endpoint` scoring."""

    concurrency: int = Field(4, ge=1, description="Requests in flight at once.")
    retries: int = Field(3, ge=0, description="Retries of a failed request (5xx, connection errors).")
    timeout_s: float = Field(60.0, gt=0, description="Timeout of one request, in seconds.")
    rows_per_request: int | None = Field(None, ge=1, description="Rows per request; default: the endpoint's limit.")


class BatchSpec(Strict):
    """`batch`: defaults for `conveyor predict` and the user's pipeline hooks."""

    input: str | None = Field(None, description="Default `--input`: a file, folder, glob or fsspec URL.")
    output: str | None = Field(None, description="Default `--output`: the folder the output is committed to.")
    format: Literal["csv", "parquet"] | None = Field(None, description="Input format; default: from the file names.")
    batch_size: int = Field(65_536, ge=1, description="Rows per record batch scored at once.")
    workers: int | None = Field(None, ge=1, description="Worker processes; default: one per CPU core.")
    on_bad_rows: Literal["fail", "reject"] = Field(
        "fail", description="A row that cannot be scored: fail the run (exit 4), or set it aside with its reason."
    )
    keep: list[str] | None = Field(None, description="Input columns copied to the output; default: all.")
    preprocess: str | None = Field(None, description="`module.py:function` applied to each batch before scoring.")
    score: str | None = Field(None, description="`module.py:function` that scores a batch instead of the model's predict.")
    postprocess: str | None = Field(None, description="`module.py:function` applied to each scored batch.")
    storage_options: dict[str, Any] = Field({}, description="fsspec options for input and output URLs (e.g. S3 endpoint, keys).")
    endpoint: EndpointSpec = Field(EndpointSpec(), description="Limits of `--via-endpoint` scoring.")
    schedule: Cron | None = Field(
        None, description="`conveyor scheduler`: score batch.input on this cron, each slot into its own partition."
    )
    stage: str | None = Field(None, description="The stage a scheduled run scores; default: the last stage.")

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

    method: Literal["default", "evidently", "psi"] = Field("default", description="How a feature's drift is decided.")
    threshold: float | None = Field(None, gt=0, description="Distance threshold; default: the method's.")
    share: float = Field(0.5, gt=0, le=1, description="Dataset drift when this share of features drift.")
    alpha: float | None = Field(None, gt=0, lt=1, description="p-value threshold of the statistical tests.")
    min_rows: int = Field(30, ge=1, description="With fewer values a feature gets no verdict.")
    small_sample: int = Field(1000, ge=0, description="With fewer values the exact tests run on raw data.")


class PerformanceSpec(Strict):
    """`monitor.performance`: the metric watched on labelled data and its tolerance."""

    metric: str | None = Field(None, description="The metric watched; default: roc_auc (classification) or rmse (regression).")
    tolerance: float = Field(0.05, ge=0, description="How much worse than at training it may get before it counts as drift.")
    false_alarm_rate: float = Field(
        0.05, gt=0, lt=1,
        description="Chance that a window from the training population raises a performance alarm.",
    )


MonitorSignal = Literal["data", "prediction", "performance", "fairness", "target"]
DEFAULT_FAIL_ON: tuple[MonitorSignal, ...] = ("data", "prediction", "performance")


class RetrainDataSpec(Strict):
    """`monitor.retrain`: where a retrain asked for by monitoring reads its data."""

    data: Literal["training", "window", "both"] = Field(
        "training",
        description="`training`: the configured data.train; `window`: the labelled rows of the "
        "monitored window; `both`: the training data with the window's rows appended.",
    )
    max_rows: int | None = Field(
        None, ge=1, description="Keep the newest rows only (the window's rows come last)."
    )
    max_age: str | None = Field(
        None, description='Keep only the rows whose `time_column` lies within this long before now, e.g. "90d" '
        "(s, m, h, d, w); rows without a value there (window rows that lack the column) are kept: "
        "the monitored window is recent.",
    )
    time_column: str | None = Field(
        None, description="The timestamp column `max_age` reads; default: `data.split.column`."
    )

    @field_validator("max_age")
    @classmethod
    def _a_duration(cls, value: str | None) -> str | None:
        if value is not None:
            from conveyor.core.durations import parse_window
            from conveyor.core.errors import WindowError

            try:
                parse_window(value)
            except WindowError as exc:
                raise ValueError(f"{exc.message} (use a number and a unit: 30m, 24h, 90d, 2w)") from None
        return value


class MonitorSpec(Strict):
    """`monitor`: drift, performance and fairness checks and what happens on drift."""

    window: str | None = Field(None, description='Default `--window` of captured traffic, e.g. "24h".')
    stage: str | None = Field(None, description="The stage whose version is watched; default: the last stage with a holder.")
    drift: DriftSpec = Field(DriftSpec(), description="How data drift is decided.")
    performance: PerformanceSpec = Field(PerformanceSpec(), description="The metric watched on labelled data.")
    fairness: dict[str, Threshold] | None = Field(None, description="Fairness limits on live data; default: gate.fairness.")
    fail_on: list[MonitorSignal] = Field(
        list(DEFAULT_FAIL_ON),
        description="The signals whose drift makes the verdict `drift` (the others are reported only).",
    )
    on_drift: list[Literal["alert", "retrain"]] = Field(
        [], description="What drift triggers: `alert` (log + webhook), `retrain` (train and gate a new version)."
    )
    webhook: str | None = Field(None, description="`alert` POSTs the JSON summary to this URL.")
    auto_promote: bool = Field(False, description="`retrain`: promote a version that passes the gate through every stage.")
    retrain: RetrainDataSpec = Field(
        RetrainDataSpec(), description="Where a retrain asked for by monitoring reads its data."
    )
    storage_options: dict[str, Any] = Field({}, description="fsspec options for `--data` URLs (as batch.storage_options).")
    schedule: Cron | None = Field(
        None, description="`conveyor scheduler`: monitor (→ retrain on drift) on this cron."
    )
    data: str | None = Field(
        None, description="What a run without --data/--window checks; default: monitor.window."
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description="Where `--data` is profiled: `local` (streamed by the monitoring process) or "
        "`spark` (one task per partition on `runtime.spark`, partition profiles merged; same verdicts).",
    )

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

    stage: str | None = Field(None, description="Serve the version holding this stage (follows promotions).")
    version: str | None = Field(None, description="Serve this fixed version (3 or v3).")

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

    deployment: str = Field(description="The deployment that gets the mirrored requests.")
    share: float = Field(1.0, gt=0, le=1, description="Share of requests mirrored.")


class CaptureSpec(Strict):
    """`serve.capture`: sampled request/response capture for monitoring."""

    sample: float = Field(0.1, ge=0, le=1, description="Share of requests captured (0 turns capture off).")
    flush_s: float = Field(2.0, gt=0, description="Seconds between writes of captured rows.")
    max_rows: int = Field(100_000, ge=1, description="Rows held in memory; past it rows are dropped and counted.")


class BatchingSpec(Strict):
    """`serve.batching`: dynamic micro-batching per deployment."""

    max_batch: int = Field(64, ge=1, description="Rows per model call.")
    max_wait_ms: float = Field(0.0, ge=0, description="How long a batch waits for more requests; 0: only what is queued.")


class LimitsSpec(Strict):
    """`serve.limits`: bounds that keep a spike from taking the server down."""

    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest request body; past it: 413.")
    max_rows: int = Field(10_000, ge=1, description="Rows per request; past it: 413.")
    queue: int = Field(256, ge=1, description="Requests waiting per deployment; past it: 429.")
    timeout_s: float = Field(
        0.5, gt=0, description="Latency budget: a request still queued after this many seconds is answered 503."
    )
    max_in_flight: int = Field(
        128, ge=1, description="Prediction requests in flight per worker process (all models together); "
        "past it: 503 + Retry-After at once, before the body is read."
    )
    retry_after_s: int = Field(1, ge=0, description="The Retry-After header of a 503 or 429, in seconds.")


class TokenSpec(Strict):
    """One bearer token: `sha256` (hex digest, preferred at rest) or `token` (e.g. ${ENV})."""

    name: str = Field(description="Who holds the token (shown in logs and the audit log).")
    roles: list[Literal["predict", "feedback", "deploy", "admin"]] = Field(
        ["predict"], description="What the token may do: predict, feedback, deploy (traffic, rollout), admin."
    )
    sha256: str | None = Field(
        None, pattern=r"^(sha256:)?[0-9a-fA-F]{64}$", description="Hex SHA-256 of the token (preferred at rest)."
    )
    token: str | None = Field(None, repr=False, exclude=True, description="The token itself, e.g. `${API_TOKEN}`.")

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

    tokens: list[TokenSpec] = Field([], description="Bearer tokens; with none, `conveyor serve` writes a local admin token.")
    predict: bool = Field(False, description="Require a predict token on the prediction endpoints.")


class RolloutSpec(Strict):
    """`serve.rollout`: how `conveyor rollout` judges a candidate against the champion."""

    max_error_rate_increase: float = Field(
        0.01, ge=0, description="How much higher the candidate's error rate may be (absolute: 0.01 = +1 point)."
    )
    max_p95_ratio: float = Field(1.5, ge=1, description="Candidate p95 latency at most the champion's times this.")
    min_requests: int = Field(20, ge=1, description="Requests per side before a step is judged.")


class ServeSpec(Strict):
    """`serve`: the endpoint's deployments, traffic split and limits."""

    deployments: dict[str, DeploymentSpec] = Field(
        {}, description="Named deployments; every stage (`prod`) and version (`v3`) is one without being listed."
    )
    traffic: dict[str, float] = Field(
        {}, description="Deployment → weight (e.g. `{prod: 90, staging: 10}`); empty: the last stage with a holder."
    )
    shadow: ShadowSpec | None = Field(None, description="Mirror requests to a deployment whose answers are discarded.")
    sticky_header: str = Field(
        "X-Conveyor-Key", description="Request header whose value pins a caller to one deployment (consistent hashing)."
    )
    capture: CaptureSpec = Field(CaptureSpec(), description="Sampled capture of requests and responses for monitoring.")
    batching: BatchingSpec = Field(BatchingSpec(), description="Dynamic micro-batching per deployment.")
    limits: LimitsSpec = Field(LimitsSpec(), description="Bounds that keep a spike from taking the server down.")
    auth: AuthSpec = Field(AuthSpec(), description="Bearer tokens and roles.")
    rollout: RolloutSpec = Field(RolloutSpec(), description="How `conveyor rollout` judges a candidate.")
    poll_s: float = Field(10.0, gt=0, description="Seconds between registry polls for alias moves.")
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=0, le=65535, description="Port.")
    workers: int | None = Field(None, ge=1, description="Worker processes; default: one per CPU core.")

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


class StreamSpec(Strict):
    """`stream`: `conveyor stream`, scoring events from a Kafka topic, a Redis stream or a file."""

    source: str | None = Field(
        None, description="Events to score: `kafka://host:port/topic`, `redis://host:port/stream`, "
        "`file://events.jsonl`, or a bare topic/stream name on the stand's `broker`."
    )
    sink: str | None = Field(None, description="Where scored events go (same forms as `source`, same broker).")
    dead_letters: str | None = Field(
        None, description="Where events that cannot be scored go, with the reason (same forms); "
        "default: the source's name + `.dead`."
    )
    feedback: str | None = Field(
        None, description="Ground-truth labels `{event_id, label}` to join to captured events (same forms)."
    )
    group: str | None = Field(None, description="Consumer group; default: `conveyor-<model>`.")
    event_id: str = Field("event_id", description="Input field holding the event id; absent: derived from the source coordinates.")
    field: str = Field("data", description="Redis: the entry field holding the event's JSON.")
    max_batch: int = Field(256, ge=1, description="Events per micro-batch (one model call).")
    max_wait_ms: float = Field(5.0, ge=0, description="How long a micro-batch waits to fill up.")
    poll_s: float = Field(10.0, gt=0, description="Seconds between registry polls for alias moves (hot swap).")
    exactly_once: bool = Field(
        False, description="Kafka: transactional producer, offsets committed in the transaction, "
        "read_committed consumers; default: at-least-once."
    )
    max_deliveries: int = Field(5, ge=1, description="Redis: an entry delivered this many times goes to the dead letters.")
    claim_idle_ms: int = Field(
        30_000, ge=100, description="Redis: entries pending this long with a consumer that stopped are claimed (XAUTOCLAIM)."
    )
    session_timeout_ms: int = Field(10_000, ge=1000, description="Kafka: consumer group session timeout.")
    capture: CaptureSpec = Field(
        CaptureSpec(), description="Sampled capture of scored events for monitoring (the endpoint's layout)."
    )
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Port of /metrics (Prometheus) and /healthz; worker i listens on port + i; default: none."
    )
    host: str = Field("127.0.0.1", description="Bind address of the metrics port.")
    workers: int = Field(1, ge=1, description="Processes in the consumer group.")


LEARNERS = ("sgd", "passive_aggressive", "naive_bayes", "kmeans", "river")


class OnlineGuardsSpec(Strict):
    """`online.guards`: what an event must pass before it may teach the model (the rejected
    ones go to the dead letters with their reason)."""

    outlier_z: float | None = Field(
        6.0, gt=0, description="Robust z-score limit against the running median/MAD of each numeric "
        "column (the target too, for regression); `null` turns the poison filter off."
    )
    outlier_exclude: list[str] = Field([], description="Numeric columns (or the target) the poison filter leaves alone.")
    profile_size: int = Field(2048, ge=16, description="Accepted values per column the running median/MAD is taken over.")
    min_profile: int = Field(256, ge=1, description="Events the profile needs before the poison filter rejects anything.")
    target_range: tuple[float, float] | None = Field(
        None, description="Regression: labels outside `[low, high]` are rejected (`label_out_of_range`)."
    )
    source_field: str | None = Field(
        None, description="The event field that names its source; default: the message key (events "
        "without one share the source `-`)."
    )
    rate_limit: float | None = Field(
        None, gt=0, description="Events per second one source may teach (token bucket); past it: `rate_limited`."
    )
    burst: float | None = Field(None, gt=0, description="The rate limit's bucket size; default: one second of `rate_limit`.")
    max_source_share: float | None = Field(
        None, gt=0, le=1, description="Largest share of the recent updates one source may have "
        "(with n sources active, at least 1/n); past it: `source_share`."
    )
    share_window: int = Field(5000, ge=10, description="How many recent updates the source share is taken over.")


class OnlineCheckpointSpec(Strict):
    """`online.checkpoint`: when the learner's state becomes a registered version."""

    every_events: int | None = Field(50_000, ge=1, description="A checkpoint after this many events read.")
    every_s: float | None = Field(600.0, gt=0, description="A checkpoint after this many seconds.")
    holdout: str | None = Field(
        None, description="A fixed holdout table (CSV or Parquet, features and target) the checkpoint "
        "gate scores; default: the recent holdout stream."
    )
    holdout_share: float = Field(
        0.1, ge=0, lt=1, description="Share of the labelled events kept out of learning as the recent "
        "holdout stream (chosen by event id)."
    )
    holdout_size: int = Field(
        1000, ge=10, description="The recent holdout stream's last events the gate scores (with the default "
        "share: the last 10,000 labelled events, so that a checkpoint after a drift is judged on the new concept)."
    )


class OnlineGateSpec(Strict):
    """`online.gate`: the light gate a checkpoint passes before it gets the first stage."""

    metrics: dict[str, Threshold] | None = Field(
        None, description="Thresholds on the holdout (accuracy, f1, roc_auc; rmse, mae, r2); default: gate.metrics."
    )
    max_drop: float | None = Field(
        0.01, ge=0, description="How much worse than the first stage's holder on the same holdout "
        "(gate.champion.metrics, else the task's primary metric); `null`: no champion check."
    )


class OnlineRollbackSpec(Strict):
    """`online.rollback`: the promoted checkpoint watched on the live labelled events."""

    tolerance: float | None = Field(
        0.05, ge=0, description="Roll the first stage back when the promoted checkpoint's live "
        "accuracy (classification; mae for regression) is worse than its predecessor's on the same "
        "events by more than this; `null`: never."
    )
    min_events: int = Field(500, ge=1, description="Labelled events both must have scored before a verdict.")


class DriftDetectorSpec(Strict):
    """`online.drift`: ADWIN or Page-Hinkley on the prequential error and chosen features."""

    detector: Literal["adwin", "page_hinkley"] | None = Field(
        "adwin", description="Which detector watches each signal; `null` turns drift detection off."
    )
    features: list[str] = Field([], description="Numeric features watched besides the prequential error.")
    delta: float = Field(0.002, gt=0, lt=1, description="ADWIN: confidence of a cut.")
    clock: int = Field(1, ge=1, description="ADWIN: check for a cut every this many mini-batches (it reads every event's value).")
    threshold: float = Field(
        8.0, gt=0, description="Page-Hinkley: alarm when the cumulative deviation passes this (in standard deviations)."
    )
    tolerance: float = Field(0.5, ge=0, description="Page-Hinkley: drift smaller than this many standard deviations is ignored.")
    min_updates: int = Field(
        30, ge=1, description="Updates (mini-batches) a detector lets pass, then takes as its reference "
        "(mean and standard deviation), before it may fire; again after each detection."
    )
    hook: str | None = Field(
        None, description="`module.py:function` called with each detection (a dict: signal, detector, "
        "events, value); detections are also logged to MLflow and the artifact store."
    )

    @field_validator("hook")
    @classmethod
    def _hook_form(cls, value: str | None) -> str | None:
        return None if value is None else _check_entrypoint(value)


class OnlineSpec(Strict):
    """`online`: `conveyor learn`, one guarded learner updating from a stream."""

    learner: str = Field(
        "sgd", description="`sgd` (SGDClassifier/SGDRegressor), `passive_aggressive`, `naive_bayes` "
        "(never recovers from a drift), `kmeans`, `river` (River scaler + one-hot + linear model), "
        "or `module.py:function` returning a learner, a partial_fit estimator or a River model."
    )
    params: dict[str, Any] = Field({}, description="Passed to the learner (estimator parameters; an entrypoint's `params`).")
    classes: list[Any] | None = Field(
        None, description="Classification: every class the labels may have; default: the holdout's labels."
    )
    max_categories: int = Field(32, ge=2, description="One-hot slots per categorical column (the last one takes the rest).")
    source: str | None = Field(None, description="Labelled events to learn from (the forms of `stream.source`).")
    labels: str | None = Field(None, description="Late labels `{event_id, <target>}` to join to held events (same forms).")
    dead_letters: str | None = Field(None, description="Rejected events, with the reason; default: the source's name + `.dead`.")
    group: str | None = Field(None, description="Consumer group; default: `conveyor-learn-<model>`.")
    max_batch: int = Field(256, ge=1, description="Events per mini-batch (one update: a `partial_fit` call, or one SGD step).")
    update: Literal["minibatch", "per_row"] = Field(
        "minibatch", description="`sgd` / `passive_aggressive` after the first batch: one gradient step per "
        "mini-batch (per span of it at a large learning rate), every row's gradient at the step's starting "
        "weights (`minibatch`; the passive-aggressive rates stay per row), or scikit-learn's per-row SGD, "
        "row after row (`per_row`)."
    )
    max_wait_ms: float = Field(20.0, ge=0, description="How long a mini-batch waits to fill up.")
    unlabelled: Literal["wait", "dead_letter"] = Field(
        "wait", description="An event without a label: predicted and held for a late label (`wait`), "
        "or sent to the dead letters (`dead_letter`)."
    )
    label_wait_s: float = Field(600.0, ge=0, description="How long a held event waits for its label.")
    label_wait_events: int = Field(100_000, ge=0, description="How many events may wait for a label at once (the oldest go first).")
    window: int = Field(5000, ge=10, description="Labelled events the sliding prequential metrics are taken over.")
    log_every_events: int = Field(10_000, ge=1, description="Prequential metrics logged to the learner's MLflow run every this many events.")
    lease_s: float = Field(60.0, ge=5, description="The learner's lease (one learner per model) expires this long after its last renewal.")
    guards: OnlineGuardsSpec = Field(OnlineGuardsSpec(), description="What an event must pass before it may teach the model.")
    checkpoint: OnlineCheckpointSpec = Field(OnlineCheckpointSpec(), description="When the state becomes a registered version.")
    gate: OnlineGateSpec = Field(OnlineGateSpec(), description="The light gate of a checkpoint.")
    auto_promote: bool = Field(
        False, description="A checkpoint that passes the gate and takes the first stage is promoted on "
        "through every later stage (audited, each stage's own rules; it stops at the first refusal); "
        "default: later stages move only by `conveyor promote`."
    )
    rollback: OnlineRollbackSpec = Field(OnlineRollbackSpec(), description="Automatic rollback of a promoted checkpoint.")
    drift: DriftDetectorSpec = Field(DriftDetectorSpec(), description="Drift detection on the stream.")

    @field_validator("learner")
    @classmethod
    def _learner_form(cls, value: str) -> str:
        if value in LEARNERS:
            return value
        if ":" in value:
            return _check_entrypoint(value)
        raise ValueError(f"{value!r} is not one of {', '.join(LEARNERS)} nor 'module.py:function'")

    @model_validator(mode="after")
    def _update_is_sgds(self) -> OnlineSpec:
        if "update" in self.model_fields_set and self.learner not in ("sgd", "passive_aggressive"):
            raise ValueError(f"online.update applies to the sgd and passive_aggressive learners, not {self.learner!r}: "
                             "remove it")
        return self


class SchedulerSpec(Strict):
    """`scheduler`: how `conveyor scheduler` runs the pipelines that have a `schedule`."""

    timezone: TimeZone = Field("UTC", description="The zone the cron fields are read in.")
    catch_up: Literal["skip", "latest", "all"] = Field(
        "latest", description="Slots missed by more than grace_s (downtime): skip them, run the latest once, or run all."
    )
    grace_s: float = Field(300.0, ge=0, description="A slot started at most this many seconds late is on time.")
    retries: int = Field(2, ge=0, description="Further attempts of a failing step.")
    backoff_s: float = Field(30.0, ge=0, description="Wait before the first retry, in seconds; doubled for each next.")
    lease_s: float = Field(300.0, ge=10, description="A crashed scheduler's leases expire after this many seconds.")
    history_env: str | None = Field(
        None, description="The environment whose tracking store holds the run history of every stand's "
        "scheduler (`conveyor runs` shows it from any stand); default: the first stage's environment "
        "when `stages` maps it to one, else the stand the scheduler runs on.",
    )


class EnvironmentSpec(Strict):
    """One stand's stack; anything left out falls back to the embedded default."""

    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (http://…, postgresql://…, sqlite:///…); default: "
        "$CONVEYOR_TRACKING_URI, $MLFLOW_TRACKING_URI, else .conveyor/mlflow.db."
    )
    registry_uri: str | None = Field(None, description="MLflow registry URI; default: the tracking URI.")
    artifact_store: str | None = Field(
        None, description="Folder or fsspec URL (s3://…) for artifacts, captures and the audit log; default: .conveyor/artifacts."
    )
    spark_master: str | None = Field(None, description="Spark master of this environment's Spark engines (batch scoring, monitoring).")
    dags: str | None = Field(
        None, description="`conveyor release`: the stand's Airflow DAG folder (a path or fsspec URL) the DAG "
        "files are published to; a stand without one runs its schedules as Kubernetes CronJobs."
    )
    manifests: str | None = Field(
        None, description="`conveyor release`: the folder (a path or fsspec URL) the Kubernetes manifests are published to."
    )
    broker: str | None = Field(
        None, description="The stand's message broker (`kafka://host:9092` or `redis://host:6379`): "
        "`conveyor stream` finds bare topic or stream names in `stream` on it."
    )


K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ServingPodSpec(Strict):
    """`export.kubernetes.serve`: the serving Deployment's size and how it scales."""

    replicas: int = Field(2, ge=1, description="Replicas of the serving Deployment (the autoscaler's minimum).")
    max_replicas: int = Field(6, ge=1, description="The autoscaler's maximum replicas.")
    target_cpu: int = Field(70, ge=1, le=100, description="Average CPU use (percent of the request) the autoscaler keeps.")
    min_available: int = Field(1, ge=0, description="The PodDisruptionBudget's minAvailable pods.")
    cpu: str = Field("1", description="CPU request (and limit) of a serving pod, e.g. `500m`.")
    memory: str = Field("1Gi", description="Memory request (and limit) of a serving pod, e.g. `1Gi`.")
    drain_s: int = Field(
        15, ge=0, description="preStop pause before shutdown, in seconds: the load balancer stops sending first."
    )

    @model_validator(mode="after")
    def _range(self) -> ServingPodSpec:
        if self.max_replicas < self.replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) is below replicas ({self.replicas})")
        return self


class KubernetesSpec(Strict):
    """`export.kubernetes`: where and as what `conveyor export k8s` runs the jobs."""

    image: str | None = Field(
        None, description="Container image with Spark and conveyor (the pack supplies the model's packages); "
        "needed by `conveyor export k8s` and by Spark steps of the Airflow export."
    )
    namespace: str = Field("default", pattern=K8S_NAME_PATTERN, description="Namespace of every object.")
    service_account: str | None = Field(None, description="Service account of the Spark driver and the job pods.")
    secrets: list[str] = Field(
        [], description="Names of Kubernetes Secrets given to every pod as environment (envFrom.secretRef): "
        "where the ${VAR}s of conveyor.yaml come from."
    )
    spark_version: str = Field("4.0.0", description="sparkVersion of the SparkApplications.")
    starting_deadline_s: int = Field(
        300, ge=1, description="CronJob startingDeadlineSeconds: a slot missed by more is skipped."
    )
    serve: ServingPodSpec = Field(ServingPodSpec(), description="The serving Deployment's size and scaling.")

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(K8S_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a Kubernetes object name (lowercase letters, digits, '-')")
        return value


class ExportSpec(Strict):
    """`export`: what `conveyor export airflow|k8s` and `conveyor release` write."""

    owner: str = Field("conveyor", description="Owner of the Airflow DAGs.")
    tags: list[str] = Field([], description="Extra tags of every DAG (the model, stand and pipeline are always tags).")
    project: str | None = Field(
        None, description="The project folder on the machines that run the tasks (Airflow workers, pods); "
        "default: the folder the export runs in."
    )
    spark: list[Literal["batch"]] = Field(
        [], description="Airflow steps that run as SparkApplications (SparkKubernetesOperator with the "
        "exported manifest) instead of in the worker's process: `batch` scores on the Spark engine."
    )
    kubernetes: KubernetesSpec = Field(KubernetesSpec(), description="Kubernetes settings of the exports.")


STAGE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"


class StageSpec(Strict):
    """One entry of `stages`: a stage name, and the stand (an entry of `environments`) it
    lives on; ``env`` left out (or the plain-name form) means the stand a command runs on."""

    name: str = Field(description="The stage: an MLflow alias name.")
    env: str | None = Field(
        None, description="The environment (stand) the stage lives on; default: the stand a command runs on."
    )

    @field_validator("name")
    @classmethod
    def _alias_name(cls, value: str) -> str:
        if not re.match(STAGE_PATTERN, value) or value.isdigit():
            raise ValueError(f"stage {value!r} is not a valid MLflow alias name")
        return value


class ProjectConfig(Strict):
    """conveyor.yaml: one model, its data, training, gate, stages and how it is used."""

    name: str = Field(pattern=NAME_PATTERN, description="Registered model name (letters, digits, `_`, `-`, `.`).")
    task: Literal["classification", "regression"] = Field(description="What the model predicts: classes or a number.")
    target: str = Field(description="The label column.")
    data: DataSpec = Field(description="Where the training data is.")
    features: FeatureSpec = Field(description="Input columns and fairness groups.")
    train: TrainSpec = Field(description="The user's training code.")
    gate: GateSpec = Field(GateSpec(), description="The quality gate.")
    # `stages:` as written: plain names or {name, env} mappings; read through `stages` (the
    # names, in order) and `stage_envs` (each stage's stand)
    stage_specs: list[StageSpec] = Field(
        default_factory=lambda: [StageSpec(name=n) for n in ("dev", "staging", "prod")],
        alias="stages",
        description="Stages in promotion order (MLflow aliases); a passing version gets the first. "
        "Each is a name (on the stand the command runs on) or `{name, env}` (on that environment's stand).",
    )
    environments: dict[str, EnvironmentSpec] = Field(
        {}, description="One stack per environment (`--env NAME`); anything left out is the embedded default."
    )
    serve: ServeSpec = Field(ServeSpec(), description="`conveyor serve`: the endpoint.")
    batch: BatchSpec | None = Field(None, description="`conveyor predict`: batch scoring.")
    monitor: MonitorSpec = Field(MonitorSpec(), description="`conveyor monitor`: drift, performance and fairness.")
    runtime: RuntimeSpec | None = Field(None, description="Requirements and engine settings.")
    scheduler: SchedulerSpec = Field(SchedulerSpec(), description="`conveyor scheduler`: the embedded scheduler.")
    export: ExportSpec = Field(ExportSpec(), description="`conveyor export` and `conveyor release`.")
    stream: StreamSpec = Field(StreamSpec(), description="`conveyor stream`: scoring events on a broker.")
    online: OnlineSpec = Field(OnlineSpec(), description="`conveyor learn`: online learning from a stream.")

    @field_validator("monitor", "serve", "scheduler", "export", "stream", "online", mode="before")
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

    @field_validator("stage_specs", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [{"name": item} if isinstance(item, str) else item for item in value]

    @field_validator("stage_specs")
    @classmethod
    def _stages_valid(cls, specs: list[StageSpec]) -> list[StageSpec]:
        stages = [spec.name for spec in specs]
        if not stages:
            raise ValueError("at least one stage is needed")
        if len(set(stages)) != len(stages):
            raise ValueError(f"stages must be unique, got {stages}")
        return specs

    @property
    def stages(self) -> list[str]:
        """The stage names, in promotion order."""
        return [spec.name for spec in self.stage_specs]

    @property
    def stage_envs(self) -> dict[str, str | None]:
        """Each stage's stand: the `environments` entry it lives on, None for the stand a
        command runs on (a plain name in `stages`)."""
        return {spec.name: spec.env for spec in self.stage_specs}

    @property
    def history_env(self) -> str | None:
        """The environment holding every stand's scheduler run history: ``scheduler.history_env``,
        else the first stage's (None: the stand the scheduler runs on)."""
        return self.scheduler.history_env or self.stage_specs[0].env

    def unknown_stands(self) -> list[tuple[int, StageSpec]]:
        """Stages (index, entry) mapped to an environment that `environments` lacks."""
        return [(i, spec) for i, spec in enumerate(self.stage_specs)
                if spec.env is not None and spec.env not in self.environments]

    @model_validator(mode="after")
    def _cross_checks(self) -> ProjectConfig:
        if self.target in self.features.inputs:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        if self.monitor.stage is not None and self.monitor.stage not in self.stages:
            raise ValueError(f"monitor.stage {self.monitor.stage!r} is not one of stages {self.stages}")
        retrain = self.monitor.retrain
        if retrain.max_age is not None and not (retrain.time_column or self.data.split.column):
            raise ValueError("monitor.retrain.max_age needs a timestamp column: set monitor.retrain.time_column "
                             "(or data.split.column)")
        self._check_serve()
        self._check_batch_schedule()
        self._check_online()
        champion = self.gate.champion
        if champion is not None and champion.stage not in self.stages:
            raise ValueError(
                f"gate.champion.stage {champion.stage!r} is not one of stages {self.stages}"
            )
        return self

    def _check_online(self) -> None:
        online, numeric = self.online, set(self.features.numeric)
        for where, names in (("online.guards.outlier_exclude", online.guards.outlier_exclude),
                             ("online.drift.features", online.drift.features)):
            unknown = [n for n in names if n not in numeric and n != self.target]
            if unknown:
                raise ValueError(f"{where} names {unknown}, which are not numeric features {sorted(numeric)}")
        if online.classes is not None and self.task != "classification":
            raise ValueError("online.classes is for classification; this model's task is regression")
        if online.classes is not None and len(set(map(str, online.classes))) < 2:
            raise ValueError("online.classes needs at least two distinct classes")
        if online.guards.target_range is not None:
            if self.task != "regression":
                raise ValueError("online.guards.target_range is for regression (classification: online.classes)")
            low, high = online.guards.target_range
            if not low < high:
                raise ValueError(f"online.guards.target_range [{low}, {high}] is empty: write [low, high]")

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
