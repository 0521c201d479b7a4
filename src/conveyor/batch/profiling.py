"""Monitoring profiles of a batch run (must-deliver 7 of the batch issue).

When the model version has a baseline profile (logged at training time), every part is
profiled where it is scored (worker process or Spark task) with a Profiler rebuilt from the
baseline's schema: its model-input columns plus the prediction (and the positive-class
probability). The part profile is written next to the part record; the commit merges them
into ``_profile.json``, referenced from the manifest's ``profiles`` field.

:class:`BatchProfiler` carries only the schema (plain data), never the MLflow client;
:data:`NO_PROFILES` is used when there is no baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.core.capture import PREDICTION, SCORE

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from conveyor.profiles import ColumnSchema

# batch output column → the baseline's column for it
OUTPUT_COLUMNS = {"prediction": PREDICTION, "probability": SCORE}


class PartProfiler(Protocol):
    def profile(self, inputs: pd.DataFrame, outputs: pd.DataFrame) -> dict[str, Any] | None: ...

    def merge(self, profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class NoProfiles:
    """The profiler of a model version without a baseline: profiles nothing."""

    reason: str = "profiles are off"

    def profile(self, inputs: pd.DataFrame, outputs: pd.DataFrame) -> dict[str, Any] | None:
        return None

    def merge(self, profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        return None


NO_PROFILES = NoProfiles()


@dataclass(frozen=True)
class BatchProfiler:
    """Profiles parts with the baseline's schema; picklable, compared by value."""

    schema: tuple[ColumnSchema, ...]
    inputs: tuple[str, ...]  # the model-input columns

    def profile(self, inputs: pd.DataFrame, outputs: pd.DataFrame) -> dict[str, Any] | None:
        """The part's profile as JSON-able data."""
        profile: dict[str, Any] = self.profiler().profile(part_frame(inputs, outputs, self.inputs)).to_dict()
        return profile

    def merge(self, profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        """The profile of all parts together (None when there are none)."""
        from conveyor.profiles import DatasetProfile, merge_all

        if not profiles:
            return None
        return merge_all(DatasetProfile.from_dict(p) for p in profiles).to_dict()

    def profiler(self) -> Any:
        from conveyor.profiles import Profiler

        return Profiler.from_schema({c.name: c for c in self.schema})


def part_frame(inputs: pd.DataFrame, outputs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Model-input columns of every input row, plus the score columns under the baseline's
    names (rejected rows count as missing predictions)."""
    frame = inputs[[c for c in columns if c in inputs.columns]].reset_index(drop=True)
    for name, baseline_name in OUTPUT_COLUMNS.items():
        if name in outputs.columns and len(outputs) <= len(frame):
            values = outputs[name].reset_index(drop=True)
            if len(values) < len(frame):  # object dtype keeps labels as they are, None as missing
                values = values.astype(object).reindex(range(len(frame)))
            frame[baseline_name] = values.to_numpy()
    return frame


def profiler_for(client: MlflowClient, run_id: str, inputs: Sequence[str]) -> PartProfiler:
    """A :class:`BatchProfiler` from the run's baseline, or :class:`NoProfiles` saying why not."""
    from conveyor.lifecycle.baseline import BASELINE_ARTIFACT, load_baseline

    baseline = load_baseline(client, run_id) if run_id else None
    if baseline is None:
        return NoProfiles(f"no profiles: run {run_id or '?'} has no baseline ({BASELINE_ARTIFACT}); "
                          "retrain the model to log one")
    return BatchProfiler(tuple(baseline.schema.values()), tuple(inputs))
