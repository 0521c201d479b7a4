"""Scoring with an MLflow pyfunc model: its ``predict`` output is the label (or value)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.scoring._frames import as_frame
from conveyor.scoring._prediction import Prediction
from conveyor.scoring._scorer import UNREGISTERED, RegisteredVersion, Scorer

if TYPE_CHECKING:
    from conveyor.scoring._schema import Columns, InputSchema


class PyfuncScorer(Scorer):
    flavor = "pyfunc"

    def __init__(
        self,
        model: Any,
        schema: InputSchema,
        source: RegisteredVersion = UNREGISTERED,
        example: Columns | None = None,
    ) -> None:
        super().__init__(schema, source, example)
        self._model = model

    @property
    def classes(self) -> np.ndarray | None:
        return None

    @property
    def estimator(self) -> Any:
        return self._model

    def predict(self, data: Any) -> Prediction:
        return Prediction(one_value_per_row(self._model.predict(as_frame(data, self.schema))))

    def describe(self) -> str:
        return f"pyfunc ({type(self._model).__name__})"


def one_value_per_row(out: Any) -> np.ndarray:
    """A Series, list or one-column frame/array as one value per row."""
    if hasattr(out, "to_numpy"):
        out = out.to_numpy()
    array = np.asarray(out)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    return array
