"""The Scorer contract: what every way of scoring a registered version implements.

A scorer turns input rows (column lists or a DataFrame) into a :class:`Prediction` under the
one label/probability rule (:mod:`conveyor.scoring._rule`). Implementations: the inference
plan (:class:`PlanScorer`), a scikit-learn estimator (:class:`EstimatorScorer`), an MLflow
pyfunc model (:class:`PyfuncScorer`); an online learner implements the same class.
``tests/scoring/test_contract.py`` checks every implementation against it.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from conveyor.scoring._schema import Columns, InputSchema

if TYPE_CHECKING:
    import numpy as np

    from conveyor.core.refs import ModelRef
    from conveyor.scoring._prediction import Prediction

log = logging.getLogger("conveyor.scoring")

OutputKind = Literal["classifier", "values"]


@dataclass(frozen=True)
class RegisteredVersion:
    """Which registry version a scorer scores with (and the reference that named it)."""

    name: str
    version: str
    run_id: str = ""
    ref: ModelRef | None = None
    gate: str | None = None  # the version's gate verdict tag (passed / failed), if any

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str]:
        """What a batch manifest and its output columns record."""
        return {
            "ref": str(self.ref) if self.ref is not None else f"{self.name}@v{self.version}",
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "uri": self.uri,
        }


UNREGISTERED = RegisteredVersion("", "")


class Scorer(ABC):
    """One loaded model, ready to score; read-only once built (a swap replaces the object)."""

    flavor: ClassVar[str]  # "plan", "sklearn", "pyfunc", ...

    def __init__(
        self, schema: InputSchema, source: RegisteredVersion = UNREGISTERED, example: Columns | None = None
    ) -> None:
        self.schema = schema
        self.source = source
        self.example = example
        self.loaded_at = time.time()

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def version(self) -> str:
        return self.source.version

    @property
    def run_id(self) -> str:
        return self.source.run_id

    @property
    @abstractmethod
    def classes(self) -> np.ndarray | None:
        """The classes of a classifier that gives probabilities, else None."""

    @abstractmethod
    def predict(self, data: Any) -> Prediction:
        """Score ``data``: column lists (``{name: [values]}``) or a DataFrame of the inputs.
        Rows the model refuses, as its estimator would, raise
        :class:`~conveyor.core.errors.RefusedRows` naming each (row, field, reason)."""

    @property
    def output_kind(self) -> OutputKind:
        return "classifier" if self.classes is not None else "values"

    @property
    def inline(self) -> bool:
        """Whether scoring a batch is cheap and bounded enough to run on an event loop
        (a numpy plan costs microseconds per row, less than a thread hand-off)."""
        return False

    @property
    def estimator(self) -> Any:
        """The model object itself (what a user's score hook receives), None for a plan."""
        return None

    def portable(self) -> Scorer:
        """What batch workers receive: the smallest scorer giving the same results."""
        return self

    def describe(self) -> str:
        """How rows are scored, for a batch manifest."""
        return f"{self.flavor} ({type(self.estimator).__name__})"

    def warm(self) -> None:
        """One prediction on the logged input example (or a synthetic row) before serving."""
        columns = self.example or {
            f.name: [0.0 if f.numeric else ("" if f.type == "string" else None)] for f in self.schema.fields
        }
        try:
            self.predict({k: list(v) for k, v in columns.items()})
        except Exception:
            if self.example is not None:
                raise  # the model cannot score its own example: do not serve it
            log.warning("warm-up on a synthetic row failed for %s v%s", self.name, self.version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, version={self.version!r}, flavor={self.flavor!r})"
