"""One monitoring run: load the current data and the version's baseline, compare, measure
performance and fairness, log an MLflow run, write the report, alert. A retrain is not run
here: the result carries a :class:`~conveyor.lifecycle.retraining.RetrainRequest` for the
caller, who records what came of it with :func:`record_retrain`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

import numpy as np

from conveyor.core import tags
from conveyor.core.capture import SCORE
from conveyor.core.durations import parse_window
from conveyor.core.errors import BaselineMissingError, MonitorDataError, RegistryError, UsageError
from conveyor.data import CapturedTraffic, Source
from conveyor.lifecycle.baseline import load_baseline, recompute_baseline
from conveyor.lifecycle.orphans import owner_tags
from conveyor.lifecycle.retraining import RetrainRequest, TriggerOutcome
from conveyor.monitoring import current as current_data
from conveyor.monitoring import triggers
from conveyor.monitoring.drift import DriftResult, DriftSettings, Method
from conveyor.monitoring.fairness import FairnessResult, evaluate_fairness
from conveyor.monitoring.performance import (
    PerformanceResult,
)
from conveyor.monitoring.report import render_html
from conveyor.monitoring.verdict import DRIFT, INSUFFICIENT, Verdict, decide

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from conveyor.core.config.secrets import Secrets
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.progress import Reporter
    from conveyor.monitoring.engines import SparkMonitorEngine

EXPERIMENT_SUFFIX = "-monitoring"
SUMMARY_ARTIFACT = "monitoring/summary.json"
REPORT_ARTIFACT = "monitoring/report.html"
PROFILE_ARTIFACT = "monitoring/profile.json"
MONITORED_VERSION = "conveyor.monitor.version"
VERDICT_TAG = "conveyor.monitor.verdict"  # drift | no drift | insufficient data
DRIFT_TAG = "conveyor.drift"
ENGINE_TAG = "conveyor.monitor.engine"  # local | spark: where the current data was profiled
SPARK_TAG = "conveyor.monitor.spark"  # the Spark master and the number of parts (tasks)
NOTE_TAG = "mlflow.note.content"  # the run's description in the MLflow UI: the verdict sentence


@dataclass
class MonitorResult:
    model: str
    version: str
    stage: str | None
    run_id: str
    rows: int
    window: dict[str, Any]
    drift: DriftResult | None
    performance: PerformanceResult | None
    fairness: FairnessResult | None
    verdict: Verdict = field(default_factory=lambda: Verdict(INSUFFICIENT, why="not judged yet"))
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    triggers: list[TriggerOutcome] = field(default_factory=list)
    report: str | None = None
    retrain: RetrainRequest | None = None  # for the caller to run (monitoring never trains)
    engine: str = "local"  # where the current data was profiled: local | spark

    @property
    def drift_detected(self) -> bool | None:
        """True for the status ``drift``, False for ``no drift``, None for ``insufficient data``."""
        return self.verdict.drift_detected

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.to_dict(),
            "model": self.model,
            "version": self.version,
            "stage": self.stage,
            "run_id": self.run_id,
            "rows": self.rows,
            "window": self.window,
            "engine": self.engine,
            "drift_detected": self.drift_detected,
            "reasons": self.reasons,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
            "fairness": None if self.fairness is None else self.fairness.to_dict(),
            "messages": self.messages,
            "triggers": [t.to_dict() for t in self.triggers],
            "retrain_requested": None if self.retrain is None else self.retrain.to_dict(),
            "report": self.report,
        }


def run_monitor(
    project: LifecycleContext,
    model: str | None = None,
    *,
    data: str | Path | None = None,
    window: str | None = None,
    method: str | None = None,
    report: str | Path | None = None,
    on_drift: list[str] | None = None,
    version: str | None = None,
    reporter: Reporter | None = None,
    now: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
    engine: str | None = None,
    master: str | None = None,
    read_ahead: Source | None = None,
) -> MonitorResult:
    """Run every check once and return the result (also logged as an MLflow run); ``engine``
    (default ``monitor.engine``) ``spark`` profiles ``data`` on Spark (``master``: default the
    environment's ``spark_master``, else ``runtime.spark.master``, else spark-submit's or
    ``local[*]``); ``read_ahead``: ``data`` already opened by :func:`start_reading`."""
    try:
        return _run_monitor(project, model, data=data, window=window, method=method, report=report,
                            on_drift=on_drift, version=version, reporter=reporter, now=now,
                            storage_options=storage_options, engine=engine, master=master, read_ahead=read_ahead)
    finally:
        if read_ahead is not None:
            read_ahead.close()


def start_reading(
    project_dir: Path, spec: Any, data: str | Path | None, *, window: str | None = None,
    engine: str | None = None, storage_options: dict[str, Any] | None = None,
) -> Source | None:
    """``--data`` opened, its rows being read in a thread (:meth:`Source.read_ahead`), before
    the command connects to its stores; None where the run would not stream it here (no
    ``--data``, a window, the Spark engine, CSV) or where opening it fails (the run says why)."""
    from conveyor.monitoring.current import CHUNK_ROWS

    if data is None or window is not None or (engine or spec.engine) != "local":
        return None
    try:
        source = _open(data, project_dir, {**spec.storage_options, **(storage_options or {})})
    except MonitorDataError:
        return None
    if source.format != "parquet":
        return None
    source.read_ahead(CHUNK_ROWS)
    return source


def _run_monitor(
    project: LifecycleContext,
    model: str | None,
    *,
    data: str | Path | None,
    window: str | None,
    method: str | None,
    report: str | Path | None,
    on_drift: list[str] | None,
    version: str | None,
    reporter: Reporter | None,
    now: datetime | None,
    storage_options: dict[str, Any] | None,
    engine: str | None,
    master: str | None,
    read_ahead: Source | None,
) -> MonitorResult:
    from conveyor.lifecycle.progress import SilentReporter
    from conveyor.stack.tracking import ensure_experiment

    reporter = reporter or SilentReporter()
    step = reporter.step
    spec = project.config.monitor
    name = model or project.name
    end = now or datetime.now(UTC)
    actions = list(spec.on_drift if on_drift is None else on_drift)
    unknown = [a for a in actions if a not in triggers.ACTIONS]
    if unknown:
        raise MonitorDataError(f"unknown --on-drift action(s) {unknown}; use alert, retrain or both")
    settings = _settings(spec.drift, method)
    spark = _spark_engine(project, engine or spec.engine, master)
    messages: list[str] = []

    with step("connect to the tracking store"):
        client = project.client
        version, stage = resolve_version(project, name, version, spec.stage)
        run_id = project.registry.version(name, version).run_id
    if data is None and window is None:
        data = spec.data  # monitor.data; else monitor.window's captured traffic
    with step("read current data"):
        options = {**spec.storage_options, **(storage_options or {})}
        if read_ahead is not None and data is not None and window is None and spark is None:
            data_in, window_info = read_ahead, {"source": str(data), "start": None, "end": end.isoformat()}
        else:
            data_in, window_info = _read_current(
                project, name, data, window or (None if data else spec.window), end, options,
                every_format=spark is not None,
            )
    with step("load model and baseline"):
        loaded_model = _load_model(client, name, version, project.config.features.inputs, messages)
        baseline = load_baseline(client, run_id) if run_id else None
        if baseline is None:
            try:
                if loaded_model is None or run_id is None:
                    raise BaselineMissingError(f"version {version} has no baseline profile")
                baseline = recompute_baseline(client, run_id, project.config, project.path, loaded_model)
                messages.append(
                    f"version {version} had no baseline profile; it was recomputed from the logged "
                    "training data and saved with the run"
                )
            except BaselineMissingError as exc:
                messages.append(f"{exc.message} — drift cannot be measured; {exc.hint}")
    cfg = project.config
    if spark is not None:
        spark = _spark_for(spark, data_in, baseline, messages)
    if isinstance(data_in, Source) and baseline is None:  # no schema to stream with:
        data_in = _frame(data_in)  # the standalone profile fits on all rows
    counted_at = len(messages)  # what the row count says goes here, once the pass has counted

    with step("profile and compare" if spark is None else "profile and compare on Spark"):
        if isinstance(data_in, Source):
            assert baseline is not None
            check = current_data.stream_pass if spark is None else spark.check
            checked = check(data_in, baseline, cfg, loaded_model, settings, messages)
        else:
            checked = current_data.frame_pass(data_in, baseline, cfg, loaded_model, settings, messages)
        current, drift = checked.current, checked.drift
    rows = current.rows
    messages[counted_at:counted_at] = _row_count_messages(rows, settings.min_rows)
    with step("performance and fairness"):
        baseline_metrics = baseline.metrics if baseline is not None else (
            dict(client.get_run(run_id).data.metrics) if run_id else {}
        )
        baseline_rows = _baseline_rows(client, run_id, baseline)
        performance = current_data.performance_of(
            checked, cfg, spec.performance, baseline_metrics, settings.min_rows, baseline_rows
        )
        fairness = _fairness(
            checked.frame, cfg, checked.predictions, spec.fairness, settings.min_rows, messages
        )

    result = MonitorResult(name, version, stage, "", rows, window_info, drift, performance, fairness,
                           messages=messages, engine="local" if spark is None else "spark")
    result.verdict = decide(rows, settings.min_rows, list(spec.fail_on), drift, performance, fairness)
    result.reasons = [] if result.verdict.status != DRIFT else [result.verdict.sentence]
    with step("log the monitoring run"):
        experiment_id = ensure_experiment(client, f"{name}{EXPERIMENT_SUFFIX}", project.stack.mlflow_artifact_root)
        run = client.create_run(
            experiment_id,
            run_name=f"v{version} {end:%Y-%m-%d %H:%M}",
            tags={
                tags.MODEL: name,
                tags.PIPELINE: "monitor",
                tags.ENVIRONMENT: project.loaded.env_name or "default",
                MONITORED_VERSION: version,
                "conveyor.monitor.method": settings.method,
                ENGINE_TAG: result.engine,
                **({} if spark is None else {SPARK_TAG: f"{spark.master_used} ({spark.parts_planned} parts)"}),
                "conveyor.monitor.source": project.loaded.secrets.redact(str(window_info.get("source", ""))),
                DRIFT_TAG: str(result.drift_detected).lower(),
                VERDICT_TAG: result.verdict.status,
                NOTE_TAG: project.loaded.secrets.redact(result.verdict.sentence),
                **owner_tags(),  # a killed monitor's run is marked KILLED by the next command
            },
        )
        result.run_id = run.info.run_id
    try:
        kill_at("run-created")
        _log_metrics(client, result, end)
        secrets = project.loaded.secrets
        _redact(result, secrets)
        if result.verdict.status == DRIFT and actions:
            reason = result.verdict.sentence
            summary = published(result, secrets)
            if "alert" in actions:
                with step("alert"):
                    outcome = triggers.alert(summary, reason, spec.webhook)
                    outcome.detail = secrets.redact(outcome.detail)
                    result.triggers.append(outcome)
            if "retrain" in actions:
                fresh = spec.retrain
                result.retrain = RetrainRequest(name, result.run_id, reason, auto_promote=spec.auto_promote,
                                                data=fresh.data, max_rows=fresh.max_rows, max_age=fresh.max_age,
                                                time_column=fresh.time_column or cfg.data.split.column,
                                                version=version)
                if fresh.data != "training":
                    with step("keep the labelled window for the retrain"):
                        _log_window(client, result.run_id, data_in, cfg.target, messages)
        with step("write the report"):
            if report is not None:
                result.report = str(Path(report).resolve())
            summary = published(result, secrets)
            page = render_html(summary, baseline, current)
            client.log_dict(result.run_id, summary, SUMMARY_ARTIFACT)
            client.log_text(result.run_id, page, REPORT_ARTIFACT)
            client.log_dict(result.run_id, current.to_dict(), PROFILE_ARTIFACT)
            if report is not None:
                Path(report).parent.mkdir(parents=True, exist_ok=True)
                Path(report).write_text(page, encoding="utf-8")
            kill_at("report-written")
    except BaseException as stopped:  # Ctrl-C, SIGTERM, an error: the run does not stay RUNNING
        killed = isinstance(stopped, (KeyboardInterrupt, SystemExit))
        client.set_terminated(result.run_id, status="KILLED" if killed else "FAILED")
        raise
    client.set_terminated(result.run_id)
    return result


KILL_AT = "CONVEYOR_KILL_AT_MONITOR"  # test hook: SIGKILL this process at a named point
KILL_POINTS = ("run-created", "report-written")


def kill_at(point: str) -> None:
    """The fault-injection hook the orphan tests use: with ``CONVEYOR_KILL_AT_MONITOR=point``
    the process kills itself with SIGKILL there (no clean-up code can run)."""
    import os
    import signal

    if os.environ.get(KILL_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)


MAX_TEXT = 4000  # characters of any one string in a published summary (report, webhook)


def published(result: MonitorResult, secrets: Secrets) -> dict[str, Any]:
    """The result as it leaves the process (summary.json, report, webhook body): every value
    that came from a ``${VAR}`` redacted and every string at most ``MAX_TEXT`` characters."""
    return cast(dict[str, Any], _bounded(secrets.redact_tree(result.to_dict())))


def _bounded(data: Any) -> Any:
    if isinstance(data, str):
        return data if len(data) <= MAX_TEXT else f"{data[:MAX_TEXT]}… ({len(data):,} characters)"
    if isinstance(data, dict):
        return {_bounded(k): _bounded(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_bounded(v) for v in data]
    return data


def _redact(result: MonitorResult, secrets: Secrets) -> None:
    """Redact, in place, what the terminal prints of the result (its messages and reasons)."""
    result.messages[:] = [secrets.redact(m) for m in result.messages]
    result.reasons[:] = [secrets.redact(r) for r in result.reasons]
    result.window = secrets.redact_tree(result.window)


def record_retrain(
    client: MlflowClient, run_id: str, outcome: TriggerOutcome, summary: dict[str, Any] | None = None
) -> None:
    """Record what the requested retrain gave on monitoring run ``run_id``: the new version
    as a tag, and the outcome in the run's summary (``summary``: the one to log, when the
    caller holds it; else the logged one is read back and extended)."""
    if outcome.version:
        client.set_tag(run_id, tags.RETRAIN_VERSION, outcome.version)
    if summary is None:
        import json
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            summary = json.loads(Path(client.download_artifacts(run_id, SUMMARY_ARTIFACT, folder)).read_text())
        summary.setdefault("triggers", []).append(outcome.to_dict())
    client.log_dict(run_id, summary, SUMMARY_ARTIFACT)


def resolve_version(
    project: LifecycleContext, name: str, version: str | None, stage: str | None
) -> tuple[str, str | None]:
    """The explicit version; else the holder of ``stage``; else of the last stage that has a
    holder (prod before staging before dev); else the newest version."""
    registry = project.registry
    if version is not None:
        return str(registry.version(name, version).version), None
    aliases = registry.model_aliases(name)
    if stage is not None:
        if stage not in aliases:
            raise RegistryError(f"no version of {name!r} holds {stage!r}", hint="set --version N")
        return aliases[stage], stage
    for candidate in reversed(project.config.stages):
        if candidate in aliases:
            return aliases[candidate], candidate
    versions = registry.versions(name, limit=1)
    if not versions:
        raise RegistryError(f"model {name!r} has no versions", hint="train it first: `conveyor train`")
    return versions[0].version, None


def read_data(
    path: str | Path, project_dir: Path, storage_options: dict[str, Any] | None = None
) -> pd.DataFrame:
    """CSV or Parquet (a file, a folder or a glob; local or an fsspec URL) as one frame."""
    return _frame(_open(path, project_dir, storage_options))


def open_data(
    path: str | Path, project_dir: Path, storage_options: dict[str, Any] | None = None
) -> Source | pd.DataFrame:
    """Parquet opened for streaming (footers read, no rows); CSV read as a frame."""
    source = _open(path, project_dir, storage_options)
    return source if source.format == "parquet" else _frame(source)


def _open(path: str | Path, project_dir: Path, storage_options: dict[str, Any] | None) -> Source:
    from conveyor.data import SourceError, SourceNotFoundError, open_source

    location = _resolve(str(path), project_dir)
    try:
        source = open_source(location, storage_options=storage_options)
        source.schema()  # fail here on a file that is not what its name says
    except SourceNotFoundError:
        raise MonitorDataError(f"data to monitor not found: {location}",
                               hint="pass --data a file, a folder or a glob (local or a URL)") from None
    except SourceError as exc:
        raise MonitorDataError(exc.message, hint=exc.hint) from None
    return source


def _frame(source: Source) -> pd.DataFrame:
    from conveyor.data import SourceError

    try:
        return source.frame()
    except SourceError as exc:
        raise MonitorDataError(exc.message, hint=exc.hint) from None


def _resolve(path: str, project_dir: Path) -> str:
    """A URL or an absolute path as given; a relative one against the working folder when
    something is there, else against the project folder."""
    from conveyor.lifecycle.data import resolve_source

    if "://" in path or Path(path).is_absolute():
        return path
    here = Path.cwd()
    found_here = (here / path).exists() or any(here.glob(path))
    return resolve_source(path, here if found_here else project_dir)


def _read_current(
    project: LifecycleContext, name: str, data: str | Path | None, window: str | None, end: datetime,
    storage_options: dict[str, Any], *, every_format: bool = False,
) -> tuple[Source | pd.DataFrame, dict[str, Any]]:
    """The current data: ``data`` opened (Parquet to stream, CSV as a frame, or with
    ``every_format`` any format as a source), else the captured traffic of ``window``."""
    if data is not None and window is not None:
        raise MonitorDataError("use either --data or --window, not both")
    if data is not None:
        opened = _open(data, project.path, storage_options) if every_format else open_data(
            data, project.path, storage_options)
        return opened, {"source": str(data), "start": None, "end": end.isoformat()}
    if window is None:
        raise MonitorDataError(
            "nothing to monitor: pass --data PATH or --window 24h",
            hint="or set monitor.window in conveyor.yaml",
        )
    start = end - parse_window(window)
    source = CapturedTraffic(project.stack.artifact_store, target=project.config.target)
    frame = source.read(name, start, end)
    return frame, {"source": f"captured traffic, last {window}", "start": start.isoformat(), "end": end.isoformat()}


def _settings(spec: Any, method: str | None) -> DriftSettings:
    chosen = method or spec.method
    if chosen not in get_args(Method):
        raise MonitorDataError(f"unknown drift method {chosen!r}; use default, evidently or psi")
    return DriftSettings(
        method=cast(Method, chosen), threshold=spec.threshold, share=spec.share, min_rows=spec.min_rows,
        small_sample=spec.small_sample, alpha=spec.alpha,
    )


def _row_count_messages(rows: int, min_rows: int) -> list[str]:
    if rows == 0:
        return ["the window is empty (0 rows): nothing to compare"]
    if rows < min_rows:
        return [f"only {rows} rows; at least {min_rows} are needed for a verdict"]
    return []


def _spark_engine(project: LifecycleContext, engine: str, master: str | None) -> SparkMonitorEngine | None:
    """The Spark engine for ``engine`` ``spark`` (settings from ``runtime.spark`` and the
    environment's ``spark_master``), None for ``local``."""
    from conveyor.monitoring.engines import ENGINES, SparkMonitorEngine

    if engine not in ENGINES:
        raise UsageError(f"unknown monitoring engine {engine!r}", hint="use --engine local or --engine spark")
    if engine == "local":
        if master is not None:
            raise UsageError("--master is a Spark setting", hint="add --engine spark, or leave --master out")
        return None
    runtime = project.config.runtime
    spec = runtime.spark if runtime is not None else None
    return SparkMonitorEngine.from_settings(spec, master or project.loaded.environment.spark_master)


def _spark_for(
    spark: SparkMonitorEngine, data_in: Source | pd.DataFrame, baseline: Any, messages: list[str]
) -> SparkMonitorEngine | None:
    """The Spark engine where it can run, else None and a message saying why the data was
    profiled here instead."""
    if not isinstance(data_in, Source):
        messages.append("captured traffic is read from the artifact store by this process: it was "
                        "profiled here, not on Spark (pass --data to profile files on Spark)")
        return None
    if baseline is None:
        messages.append("without a baseline profile there is no fitted schema to profile partitions "
                        "with: the data was profiled here, not on Spark")
        return None
    return spark


def _load_model(client: MlflowClient, name: str, version: str, fallback: list[str], messages: list[str]) -> Any:
    """The version's scorer seen as an estimator (predict / predict_proba / classes_)."""
    from conveyor.scoring import as_estimator, load_version

    try:  # the logged plan, else compiled now, else the model: the one scoring core
        return as_estimator(load_version(client, name, version, fallback))
    except Exception as exc:  # noqa: BLE001 - report, and go on with what needs no model
        messages.append(f"cannot load model {name} v{version}: {type(exc).__name__}: {exc}")
        return None


def _fairness(
    frame: pd.DataFrame, cfg: Any, predictions: np.ndarray | None, thresholds: Any,
    min_rows: int, messages: list[str],
) -> FairnessResult | None:
    sensitive = cfg.features.sensitive
    if not sensitive or predictions is None:
        return None
    present = [c for c in sensitive if c in frame.columns]
    if len(present) < len(sensitive):
        messages.append(f"sensitive column(s) {[c for c in sensitive if c not in present]} missing: "
                        "fairness not measured for them")
    if not present:
        return None
    limits = thresholds if thresholds is not None else cfg.gate.fairness
    y = frame[cfg.target] if cfg.target in frame.columns else None
    return evaluate_fairness(predictions, frame[present], limits, y, min_rows, task=cfg.task)


def _log_window(
    client: MlflowClient, run_id: str, data_in: Source | pd.DataFrame, target: str, messages: list[str]
) -> None:
    """The labelled rows of the window, with the monitoring run (a retrain on fresh data reads
    them from there, wherever it runs)."""
    import tempfile

    from conveyor.lifecycle.retraining import WINDOW_ARTIFACT

    frame = _frame(data_in) if isinstance(data_in, Source) else data_in
    if target not in frame.columns or not frame[target].notna().any():
        messages.append("the window has no labelled rows: a retrain on it has nothing to train on")
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(WINDOW_ARTIFACT).name
        frame[frame[target].notna()].to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), str(Path(WINDOW_ARTIFACT).parent))


def _baseline_rows(client: MlflowClient, run_id: str | None, baseline: Any) -> int | None:
    """The size of the test set the baseline metrics were measured on (their uncertainty)."""
    if baseline is not None and baseline.meta.get("test_rows"):
        return int(baseline.meta["test_rows"])
    if run_id is None:
        return None
    logged = client.get_run(run_id).data.params.get("test.rows")
    return int(logged) if logged and logged.isdigit() else None


_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def _log_metrics(client: Any, result: MonitorResult, end: datetime) -> None:
    from mlflow.entities import Metric

    step = int(end.timestamp())
    stamp = int(end.timestamp() * 1000)
    values: dict[str, float | None] = {"rows": result.rows, "verdict.drift": (
        None if result.drift_detected is None else float(result.drift_detected))}
    drift = result.drift
    if drift is not None:
        values["drift.share"] = drift.share
        values["drift.dataset"] = None if drift.dataset_drift is None else float(drift.dataset_drift)
        for item in [*drift.features, *drift.outputs, *([drift.target] if drift.target else [])]:
            prefix = "prediction" if item.role == "prediction" else f"drift.{item.column}"
            if item.role == "prediction":
                prefix = f"prediction.{'score' if item.column == SCORE else 'label'}"
            if item.role == "target":
                prefix = "target"
            values[f"{prefix}.drifted"] = None if item.drifted is None else float(item.drifted)
            for stat in ("wasserstein", "jensenshannon", "psi", "ks", "chisquare_p", "missing_rate"):
                values[f"{prefix}.{stat}"] = item.stats.get(stat)
            if item.test is not None:  # the statistic that decided the verdict, as it decided
                values[f"{prefix}.{item.test}"] = item.score
                values[f"{prefix}.decided_by.{item.test}"] = item.score
    if result.performance is not None:
        perf = result.performance
        for key, value in perf.metrics.items():
            values[f"performance.{key}"] = value
        values["performance.degraded"] = None if perf.degraded is None else float(perf.degraded)
    if result.fairness is not None:
        for column, metrics in result.fairness.columns.items():
            for key, value in metrics.items():
                if isinstance(value, (int, float)):
                    values[f"fairness.{column}.{key}"] = value
    logged = [
        Metric(_KEY.sub("_", key), float(value), stamp, step)
        for key, value in values.items()
        if value is not None and np.isfinite(value)
    ]
    for start in range(0, len(logged), 900):
        client.log_batch(result.run_id, metrics=logged[start:start + 900])
