"""Scoring with an online learner's checkpoint (``conveyor learn``): the learner's state,
unpickled, behind the Scorer contract, so the endpoint, the stream scorer and batch scoring
follow checkpoints by alias like any version.

A checkpoint's MLmodel names the flavor ``conveyor_online`` (the state file) and a
``python_function`` flavor whose loader is this module, so MLflow's own
``mlflow.pyfunc.load_model`` loads it too. The learner is any object with the online learner
contract's prediction side (``predict``, ``predict_proba``, ``classes_``); this module never
imports :mod:`conveyor.online` (unpickling the state does).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.errors import Refusal, RefusedRows
from conveyor.scoring._frames import is_frame
from conveyor.scoring._prediction import Prediction
from conveyor.scoring._scorer import UNREGISTERED, RegisteredVersion, Scorer

if TYPE_CHECKING:
    from conveyor.scoring._schema import Columns, InputSchema

ONLINE_FLAVOR = "conveyor_online"
STATE_FILE = "learner.bin"


class OnlineScorer(Scorer):
    flavor = "online"

    def __init__(
        self, learner: Any, schema: InputSchema, source: RegisteredVersion = UNREGISTERED,
        example: Columns | None = None,
    ) -> None:
        super().__init__(schema, source, example)
        self._learner = learner
        classes = getattr(learner, "classes_", None)
        self._classes = None if classes is None else np.asarray(classes)

    @property
    def classes(self) -> np.ndarray | None:
        return self._classes

    @property
    def estimator(self) -> Any:
        return self._learner

    def predict(self, data: Any) -> Prediction:
        columns = _columns(data, self.schema)
        labels = np.asarray(self._learner.predict(columns))
        if self._classes is None:
            return Prediction(labels)
        proba = self._learner.predict_proba(columns)
        return Prediction(labels, None if proba is None else np.asarray(proba), self._classes)

    def describe(self) -> str:
        describe = getattr(self._learner, "describe", None)
        return f"online learner ({describe() if callable(describe) else type(self._learner).__name__})"


def _columns(data: Any, schema: InputSchema) -> dict[str, Any]:
    """{name: values} of the model's inputs, numeric ones as float arrays; a row with a value
    the learner cannot take (missing, not a number, infinite: it has no imputer) is refused,
    as an estimator without an imputer refuses it."""
    names = schema.names or list(data.columns if is_frame(data) else data)
    out: dict[str, Any] = {}
    refusals: list[Refusal] = []
    for name in names:
        values = data[name].to_numpy() if is_frame(data) else data[name]
        field = schema.field(name)
        if field is not None and field.numeric:
            try:
                column = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
            except (TypeError, ValueError):
                column = np.asarray([_number(v) for v in values], dtype=np.float64)
            refusals += [Refusal(int(i), name, "missing or not a finite number (an online learner has no imputer)")
                         for i in np.flatnonzero(~np.isfinite(column)).tolist()]
            out[name] = column
        else:
            out[name] = list(values)
            if field is not None and field.text:
                refusals += [Refusal(i, name, "missing category") for i, v in enumerate(out[name])
                             if not isinstance(v, str)]
    if refusals:
        first: dict[int, Refusal] = {}
        for refusal in refusals:
            first.setdefault(refusal.row, refusal)
        raise RefusedRows([first[row] for row in sorted(first)])
    return out


def _number(value: Any) -> float:
    try:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    except (TypeError, ValueError):
        return np.nan


def read_state(path: str | Path) -> Any:
    """The learner pickled in a checkpoint's state file."""
    return pickle.loads(Path(path).read_bytes())


class _PyfuncModel:
    """What ``mlflow.pyfunc.load_model`` returns for a checkpoint: predict → labels."""

    def __init__(self, learner: Any) -> None:
        self.learner = learner

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        from conveyor.scoring._schema import InputSchema

        return np.asarray(self.learner.predict(_columns(model_input, InputSchema())))


def _load_pyfunc(path: str) -> _PyfuncModel:
    """MLflow's pyfunc loader hook (``loader_module`` of the python_function flavor)."""
    state = Path(path)
    return _PyfuncModel(read_state(state / STATE_FILE if state.is_dir() else state))
