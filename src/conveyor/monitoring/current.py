"""Passes over the current data of a monitoring run: a frame held whole, or a Parquet file
streamed chunk by chunk with the same result (profile merged per chunk, compact per-row
arrays for performance and fairness, raw numbers only while the exact tests may use them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.capture import METADATA, PREDICTION, SCORE
from conveyor.core.errors import TaskError
from conveyor.data import Source
from conveyor.lifecycle.baseline import model_outputs
from conveyor.monitoring.drift import DriftResult, DriftSettings, _exact_test_decides, compare
from conveyor.monitoring.performance import (
    ModelOutputs,
    OutputSource,
    PerformanceResult,
    evaluate_outputs,
    score_outputs,
)
from conveyor.profiles import DatasetProfile, Profiler, merge

if TYPE_CHECKING:
    import pandas as pd

CHUNK_ROWS = 262_144  # rows per record batch when --data Parquet is streamed


def _with_outputs(
    frame: pd.DataFrame, cfg: Any, model: Any, messages: list[str]
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The frame with the prediction columns: captured ones if present, else scored now."""
    current = frame.copy()
    if PREDICTION in frame.columns:
        return current, frame[PREDICTION].to_numpy()
    inputs = cfg.features.inputs
    missing = [c for c in inputs if c not in frame.columns]
    if model is None or len(frame) == 0:
        return current, None
    if missing:
        messages.append(f"the model cannot score the data: input column(s) {missing} are missing")
        return current, None
    try:
        outputs = model_outputs(model, frame[inputs], cfg.task)
    except Exception as exc:  # noqa: BLE001 - e.g. strings where numbers were trained
        messages.append(_score_failure(exc))
        return current, None
    for column, values in outputs.items():
        current[column] = values
    return current, outputs[PREDICTION]


def _score_failure(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    kind = exc.kind if isinstance(exc, TaskError) else type(exc).__name__
    return (f"the model cannot score the data ({kind}: {first}); "
            "prediction drift, performance and fairness are skipped")


@dataclass
class CheckedData:
    """One pass over the current data: the profile and drift, and what performance and
    fairness need (``frame`` holds at least the target and sensitive columns)."""

    current: DatasetProfile
    drift: DriftResult | None
    frame: pd.DataFrame
    predictions: np.ndarray | None
    outputs: OutputSource | None


def frame_pass(
    frame: pd.DataFrame, baseline: DatasetProfile | None, cfg: Any, model: Any,
    settings: DriftSettings, messages: list[str],
) -> CheckedData:
    """Profile and compare a frame held whole."""
    current_frame, predictions = _with_outputs(frame, cfg, model, messages)
    drift = None
    if baseline is not None:
        current = Profiler.from_schema(baseline.schema).profile(current_frame)
        current.unexpected = _unknown(current.unexpected, baseline, cfg)
        drift = compare(baseline, current, settings, raw=current_frame)
        messages += drift.messages
    else:
        current = standalone_profile(current_frame, cfg)
    outputs = None
    inputs = cfg.features.inputs
    if model is not None and all(c in frame.columns for c in inputs):
        outputs = _scorer(model, frame[inputs], cfg.task)
    return CheckedData(current, drift, frame, predictions, outputs)


def _scorer(model: Any, X: pd.DataFrame, task: str) -> OutputSource:
    return lambda labelled: score_outputs(model, X[labelled], task)


def _failed(exc: Exception) -> OutputSource:
    def outputs(labelled: np.ndarray) -> ModelOutputs:
        raise exc

    return outputs


def _unknown(columns: list[str], baseline: DatasetProfile, cfg: Any) -> list[str]:
    """Columns neither profiled nor known to the project (training columns, sensitive, capture)."""
    known = {*baseline.meta.get("columns", []), *cfg.features.sensitive, *METADATA}
    return [c for c in columns if c not in known]


def stream_pass(
    source: Source, baseline: DatasetProfile, cfg: Any, model: Any,
    settings: DriftSettings, messages: list[str],
) -> CheckedData:
    """Profile and compare a Parquet file chunk by chunk (see :class:`Stream`); the result
    equals :func:`_frame_pass` on the whole file."""
    plan = plan_pass(source, baseline, cfg, model, messages)
    stream = profile_chunks(source.frames(plan.wanted, CHUNK_ROWS), plan, baseline, settings, model)
    return finish_pass(stream, source, baseline, cfg, settings, messages)


@dataclass(frozen=True)
class PassPlan:
    """What every chunk of a pass gets, decided once from the source's columns: whether to
    score it (and add the prediction columns), which columns to read and which to keep."""

    captured: bool  # the data carries the predictions served
    scoring: bool
    wanted: list[str]
    kept: list[str]  # the per-row columns performance and fairness read
    inputs: list[str]
    task: str
    rows_needed: bool  # labels or sensitive columns: per-row values are judged after the pass


def plan_pass(
    source: Source, baseline: DatasetProfile, cfg: Any, model: Any, messages: list[str]
) -> PassPlan:
    captured = PREDICTION in source.columns
    kept = [c for c in [cfg.target, *cfg.features.sensitive, PREDICTION] if c in source.columns]
    return PassPlan(
        captured=captured,
        scoring=_can_score(source, cfg, model, captured, messages),
        wanted=[c for c in source.columns if c in {*baseline.schema, *cfg.features.inputs, *kept}],
        kept=kept,
        inputs=list(cfg.features.inputs),
        task=cfg.task,
        rows_needed=cfg.target in source.columns or bool(cfg.features.sensitive),
    )


def profile_chunks(
    chunks: Iterable[pd.DataFrame], plan: PassPlan, baseline: DatasetProfile, settings: DriftSettings,
    model: Any,
) -> Stream:
    """One pass over ``chunks`` (all of the data, or one partition of it)."""
    stream = Stream.start(baseline, settings)
    for chunk in chunks:
        if plan.scoring and stream.error is None and len(chunk):
            stream.score(chunk, model, plan, add=not plan.captured)
        stream.add(chunk, plan.kept)
    return stream


def finish_pass(
    stream: Stream, source: Source, baseline: DatasetProfile, cfg: Any, settings: DriftSettings,
    messages: list[str],
) -> CheckedData:
    """The checked data of a whole pass (one stream, or the partitions' streams combined)."""
    import pandas as pd

    captured = PREDICTION in source.columns
    current = stream.profile
    assert current is not None  # frames() yields at least one frame
    if stream.error is not None and not captured:
        messages.append(_score_failure(stream.error))
        _drop_outputs(current)
    added = [] if stream.error is not None else stream.added
    current.unexpected = _unknown(
        [c for c in [*source.columns, *added] if c not in baseline.schema], baseline, cfg
    )
    drift = compare(baseline, current, settings, raw=stream.raw.frame())
    messages += drift.messages
    frame = pd.concat(stream.frames, ignore_index=True)
    predictions, outputs = stream.results(frame, captured)
    return CheckedData(current, drift, frame, predictions, outputs)


def _can_score(source: Source, cfg: Any, model: Any, captured: bool, messages: list[str]) -> bool:
    """Whether to score the chunks: for prediction drift and fairness when no predictions were
    captured, and for performance when the file is labelled."""
    if model is None or source.total_rows() == 0:
        return False
    lacking = [c for c in cfg.features.inputs if c not in source.columns]
    if lacking:
        if not captured:
            messages.append(f"the model cannot score the data: input column(s) {lacking} are missing")
        return False
    return not captured or cfg.target in source.columns


@dataclass
class Stream:
    """What a pass over the chunks keeps: the merged profile, the raw numbers the exact tests
    may need, the kept columns and the model's outputs per chunk."""

    profiler: Profiler
    raw: _RawNumbers
    profile: DatasetProfile | None = None
    frames: list[pd.DataFrame] = field(default_factory=list)
    outputs: list[ModelOutputs] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    error: Exception | None = None

    @classmethod
    def start(cls, baseline: DatasetProfile, settings: DriftSettings) -> Stream:
        """An empty pass, profiling with the baseline's fitted schema."""
        return cls(Profiler.from_schema(baseline.schema), _RawNumbers(baseline, settings))

    def score(self, chunk: pd.DataFrame, model: Any, plan: PassPlan, *, add: bool) -> None:
        """Score the chunk; with ``add``, put the prediction columns in it (to be profiled)."""
        try:
            columns, outputs = _chunk_outputs(model, chunk[plan.inputs], plan.task)
        except Exception as exc:  # noqa: BLE001 - e.g. strings where numbers were trained
            self.error = exc
            return
        self.outputs.append(outputs)
        if add:
            for column, values in columns.items():
                chunk[column] = values
            self.added = list(columns)

    def add(self, chunk: pd.DataFrame, kept: list[str]) -> None:
        part = self.profiler.profile(chunk)
        self.profile = part if self.profile is None else merge(self.profile, part)
        self.raw.add(chunk, self.profile)
        self.frames.append(chunk[kept])

    def partition(self, plan: PassPlan) -> PartitionPass:
        """What the pass over one partition sends back to be absorbed (per-row values only
        when labels or sensitive columns will be judged)."""
        import pandas as pd

        assert self.profile is not None  # a partition has at least one chunk
        frame = pd.concat(self.frames, ignore_index=True)
        joined = self._joined()
        if not plan.rows_needed:
            frame, joined = frame[[]], None
        error = None if self.error is None else TaskError.of(self.error)  # any error crosses
        return PartitionPass(self.profile, self.raw.arrays(), frame, joined, self.added, error)

    def absorb(self, part: PartitionPass) -> None:
        """Add one partition's pass after those absorbed before it (in the data's order); call
        :meth:`settle` after the last."""
        self.profile = part.profile if self.profile is None else merge(self.profile, part.profile)
        self.raw.absorb(part.raw)
        self.frames.append(part.frame)
        if part.outputs is not None:
            self.outputs.append(part.outputs)
        self.added = self.added or part.added
        self.error = self.error if self.error is not None else part.error

    def settle(self) -> None:
        """After the partitions: the raw numbers only where the exact test still decides on the
        whole (as a single pass would have kept them)."""
        if self.profile is not None:
            self.raw.prune(self.profile)

    def _joined(self) -> ModelOutputs | None:
        if not self.outputs:
            return None
        return ModelOutputs(
            np.concatenate([o.predictions for o in self.outputs]),
            None if self.outputs[0].scores is None else np.concatenate([o.scores for o in self.outputs]),
            self.outputs[0].classes,
        )

    def results(
        self, frame: pd.DataFrame, captured: bool
    ) -> tuple[np.ndarray | None, OutputSource | None]:
        """The predictions fairness judges and the outputs performance judges."""
        captured_predictions = frame[PREDICTION].to_numpy() if captured and PREDICTION in frame else None
        if self.error is not None:
            return captured_predictions, _failed(self.error)
        joined = self._joined()
        if joined is None:
            return captured_predictions, None
        return (captured_predictions if captured else joined.predictions), joined


@dataclass
class PartitionPass:
    """One partition's pass, as its task returns it to the driver (picklable): the profile,
    the raw numbers kept for the exact tests, the kept per-row columns and the outputs."""

    profile: DatasetProfile
    raw: dict[str, np.ndarray]
    frame: pd.DataFrame
    outputs: ModelOutputs | None
    added: list[str]
    error: Exception | None


class _RawNumbers:
    """The finite current values of each numeric baseline column, kept only while the exact
    small-sample test may still use them (so at most ``small_sample`` values a column, except
    for a tiny reference with ``--method evidently``)."""

    def __init__(self, baseline: DatasetProfile, settings: DriftSettings) -> None:
        self.baseline, self.settings = baseline, settings
        self.parts: dict[str, list[np.ndarray]] = {
            n: [] for n, c in baseline.schema.items() if c.kind == "numeric" and n in baseline.columns
        }

    def add(self, chunk: pd.DataFrame, current: DatasetProfile) -> None:
        for name in list(self.parts):
            cur = current.columns.get(name)
            if name not in chunk.columns or cur is None:
                continue
            ref = self.baseline.columns[name]
            if not _exact_test_decides(self.settings, ref, cur):  # type: ignore[arg-type]
                del self.parts[name]  # the count only grows: it will not decide later either
                continue
            self.parts[name].append(_finite(chunk[name]))

    def arrays(self) -> dict[str, np.ndarray]:
        """One array per column still kept."""
        return {n: np.concatenate(p) if p else np.empty(0) for n, p in self.parts.items()}

    def absorb(self, arrays: dict[str, np.ndarray]) -> None:
        """A later partition's numbers; a column it dropped will not decide on the whole."""
        for name in list(self.parts):
            if name in arrays:
                self.parts[name].append(arrays[name])
            else:
                del self.parts[name]

    def prune(self, current: DatasetProfile) -> None:
        for name in list(self.parts):
            cur = current.columns.get(name)
            if cur is not None and not _exact_test_decides(self.settings, self.baseline.columns[name], cur):  # type: ignore[arg-type]
                del self.parts[name]

    def frame(self) -> pd.DataFrame | None:
        import pandas as pd

        if not self.parts:
            return None
        return pd.DataFrame({
            n: pd.Series(np.concatenate(p) if p else np.empty(0)) for n, p in self.parts.items()
        })


def _finite(series: pd.Series) -> np.ndarray:
    """The finite numbers of a column, as drift's exact tests read them."""
    import pandas as pd

    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values[np.isfinite(values)])


def _chunk_outputs(
    model: Any, X: pd.DataFrame, task: str
) -> tuple[dict[str, np.ndarray], ModelOutputs]:
    """The prediction columns to profile and the outputs performance needs (the positive-class
    score of a binary classifier, else every class's probability)."""
    columns = model_outputs(model, X, task)
    scores = columns.get(SCORE)
    if scores is None and task == "classification" and hasattr(model, "predict_proba"):
        scores = np.asarray(model.predict_proba(X))
    classes = getattr(model, "classes_", None)
    return columns, ModelOutputs(columns[PREDICTION], scores, None if classes is None else list(classes))


def _drop_outputs(profile: DatasetProfile) -> None:
    """Forget the prediction columns of chunks scored before scoring failed."""
    for column in (PREDICTION, SCORE):
        profile.columns.pop(column, None)
    profile.absent = [n for n in profile.schema if n not in profile.columns]


def performance_of(
    checked: CheckedData, cfg: Any, spec: Any, baseline_metrics: dict[str, float], min_rows: int,
    baseline_rows: int | None = None,
) -> PerformanceResult | None:
    """Performance on the labelled rows: every gate threshold, and ``spec.metric`` against
    the baseline (measured on ``baseline_rows`` test rows)."""
    frame = checked.frame
    if checked.outputs is None or cfg.target not in frame.columns or not frame[cfg.target].notna().any():
        return None
    return evaluate_outputs(
        checked.outputs, frame[cfg.target], cfg.task, baseline_metrics,
        metric=spec.metric, tolerance=spec.tolerance, min_rows=min_rows, gate=dict(cfg.gate.metrics),
        false_alarm_rate=spec.false_alarm_rate, baseline_rows=baseline_rows,
    )


def standalone_profile(frame: pd.DataFrame, cfg: Any) -> DatasetProfile:
    numeric = [c for c in cfg.features.numeric if c in frame.columns]
    categorical = [c for c in cfg.features.categorical if c in frame.columns]
    return Profiler(numeric, categorical).fit(frame).profile(frame)
