"""The batch pipeline on one chunk: preprocess → validate → score → postprocess.

Rows that fail validation or scoring are either fatal (policy ``fail``: the first one stops
the run, with its reason) or set aside with a ``reason`` column (policy ``reject``). Rows the
model refuses by name (:class:`~conveyor.core.errors.RefusedRows`: an inference plan refuses
what its estimator would) are set aside with the field and reason; a model that fails on a
whole chunk otherwise is bisected to find the rows it fails on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from conveyor.batch.scoring import FrameScorer
from conveyor.batch.validation import validate_rows
from conveyor.core.errors import BadRowError, ConveyorError, HookError, RefusedRows, RowError
from conveyor.scoring import InputField

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

Policy = Literal["fail", "reject"]
Hook = Callable[["pd.DataFrame"], "pd.DataFrame"]

REASON = "reason"
ROW = "row"
MODEL_NAME, MODEL_VERSION, MODEL_RUN_ID = "model_name", "model_version", "model_run_id"


@dataclass
class Scored:
    """One chunk's output rows and rejected rows."""

    output: pd.DataFrame
    rejected: pd.DataFrame
    constants: dict[str, str] = field(default_factory=dict)  # columns of one value, added on write


@dataclass
class ArrowScored:
    """One chunk scored by :meth:`Pipeline.run_arrow`: the output and rejected rows as Arrow
    tables, and what the profiler reads (the model's input columns as read, the scores)."""

    output: pa.Table
    inputs: pd.DataFrame
    scores: pd.DataFrame
    rejected: pa.Table
    constants: dict[str, str]


class Pipeline:
    def __init__(
        self,
        columns: Sequence[InputField],
        scorer: FrameScorer,
        *,
        model: dict[str, str],
        policy: Policy = "fail",
        keep: Sequence[str] | None = None,
        preprocess: Hook | None = None,
        postprocess: Hook | None = None,
    ) -> None:
        self.columns = list(columns)
        self.scorer = scorer
        self.model = model
        self.policy = policy
        self.keep = None if keep is None else list(keep)
        self.preprocess = preprocess
        self.postprocess = postprocess

    def run(self, frame: pd.DataFrame, first_row: int = 0) -> Scored:
        """Score a chunk whose first row is row ``first_row`` of the whole input."""
        import pandas as pd

        frame = frame.reset_index(drop=True)
        if self.preprocess is not None:
            frame = _call_hook(self.preprocess, "batch.preprocess", frame).reset_index(drop=True)
        reasons, bad, scored = self.score_rows(frame, first_row)
        output = self._output(frame, bad, scored)
        constants = self.constants()
        if self.postprocess is not None:
            output = _call_hook(self.postprocess, "batch.postprocess", output.assign(**constants))
            constants = {}
        rejected = frame.loc[bad].copy()
        rejected.insert(0, ROW, (rejected.index.to_numpy() + first_row).astype("int64"))
        rejected[REASON] = reasons[bad].astype(str).to_numpy()
        return Scored(output.reset_index(drop=True), pd.DataFrame(rejected).reset_index(drop=True), constants)

    @property
    def carries_arrow(self) -> bool:
        """No hook sees whole frames: the input columns can go from the read table to the
        written part as Arrow (:meth:`run_arrow`), only the model's columns through pandas."""
        return self.preprocess is None and self.postprocess is None

    def run_arrow(self, table: pa.Table, first_row: int = 0) -> ArrowScored:
        """:meth:`run` for a pipeline without hooks, on an Arrow table: the model's columns
        are validated and scored in pandas, the output and rejected rows are the table's own
        columns (kept as read) with the score columns appended."""
        import pyarrow as pa

        names = [c.name for c in self.columns if c.name in table.column_names]
        frame = table.select(names).to_pandas()
        reasons, bad, scored = self.score_rows(frame, first_row)
        keep = self.keep if self.keep is not None else table.column_names
        kept = table.select([c for c in keep if c in table.column_names]).replace_schema_metadata(None)
        rejected = table.slice(0, 0)
        if bad.any():
            kept = kept.filter(pa.array(~bad))
            rejected = table.filter(pa.array(bad))
            rows = (bad.nonzero()[0] + first_row).astype("int64")
            rejected = rejected.add_column(0, ROW, pa.array(rows)).append_column(
                REASON, pa.array(reasons[bad].astype(str).to_numpy(), pa.large_string()))
        scores = pa.Table.from_pandas(scored, preserve_index=False, nthreads=1)
        for name, column in zip(scores.column_names, scores.columns, strict=True):
            kept = kept.append_column(name, column)
        return ArrowScored(kept, frame, scored, rejected.replace_schema_metadata(None), self.constants())

    def constants(self) -> dict[str, str]:
        return {MODEL_NAME: self.model["name"], MODEL_VERSION: self.model["version"],
                MODEL_RUN_ID: self.model["run_id"]}

    def score_rows(self, frame: pd.DataFrame, first_row: int) -> tuple[pd.Series, np.ndarray, pd.DataFrame]:
        """Validate and score a chunk: per row its reason ('' if fine), the mask of bad rows
        and the score columns of the good rows (``policy: fail`` raises on the first bad one)."""
        features, reasons, bad = validate_rows(frame, self.columns)
        self._check_policy(reasons, bad, first_row)
        scored, failures = self._score(features[~bad] if bad.any() else features)
        if failures:
            for position, reason in failures.items():
                reasons.iloc[position] = reason
            bad = (reasons != "").to_numpy()
            self._check_policy(reasons, bad, first_row)
        return reasons, bad, scored

    def _output(self, frame: pd.DataFrame, bad: np.ndarray, scored: pd.DataFrame) -> pd.DataFrame:
        """The kept input columns of the good rows, then the score columns."""
        keep = self.keep if self.keep is not None else list(frame.columns)
        columns = [c for c in keep if c in frame.columns]
        output = frame.loc[~bad, columns] if bad.any() else frame[columns].copy()
        for name in scored.columns:
            output[name] = scored[name].to_numpy()
        return output

    def _check_policy(self, reasons: pd.Series, bad: np.ndarray, first_row: int) -> None:
        if self.policy == "fail" and bad.any():
            position = int(bad.argmax())
            row, reason = first_row + position, str(reasons.iloc[position])
            raise BadRowError(
                f"row {row} of the input is bad: {reason}",
                row=row,
                reason=reason,
                hint="fix the data, or set batch.on_bad_rows: reject to set bad rows aside",
            )

    def _score(self, features: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
        """Scores for the rows that score, and {frame position: reason} for those that fail."""
        import pandas as pd

        if features.empty:
            return pd.DataFrame(index=features.index), {}
        try:
            return self.scorer(features), {}
        except RefusedRows as exc:  # the model names the rows it refuses: score the others
            refused = {int(features.index[r.row]): f"{r.field}: {r.reason}" for r in exc.refusals}
            if len(refused) == len(features):
                return pd.DataFrame(index=features.index[:0]), refused
            rest, failed = self._score(features.drop(index=list(refused)))
            return rest, {**refused, **failed}
        except Exception as exc:  # a row's fault (the model, an encoder, a 4xx): find the rows
            if isinstance(exc, ConveyorError) and not isinstance(exc, RowError):
                raise  # not a row's fault: a hook, the endpoint or the engine failed
            if len(features) == 1:
                return pd.DataFrame(index=features.index[:0]), {
                    int(features.index[0]): f"scoring failed: {type(exc).__name__}: {exc}"
                }
        middle = len(features) // 2
        left, left_failed = self._score(features.iloc[:middle])
        right, right_failed = self._score(features.iloc[middle:])
        parts = [p for p in (left, right) if len(p)]
        scored = pd.concat(parts) if parts else pd.DataFrame(index=features.index[:0])
        return scored, {**left_failed, **right_failed}


def _call_hook(function: Hook, label: str, frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    try:
        result = function(frame)
    except Exception as exc:  # noqa: BLE001 - the user's code: report with its traceback
        raise HookError(
            f"{label} ({getattr(function, '__name__', function)!s}) raised {type(exc).__name__}: {exc}",
            user_traceback=traceback.format_exc(),
            hint="nothing from this run was committed; fix the hook and rerun with --resume",
        ) from None
    if not isinstance(result, pd.DataFrame):
        raise HookError(
            f"{label} returned {type(result).__name__}, not a pandas DataFrame",
            user_traceback="",
        )
    return result


def model_columns(model: dict[str, Any]) -> dict[str, str]:
    return {k: str(model[k]) for k in ("name", "version", "run_id")}
