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
    batch: dict[str, Any] | None = None
    monitor: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None

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
        champion = self.gate.champion
        if champion is not None and champion.stage not in self.stages:
            raise ValueError(
                f"gate.champion.stage {champion.stage!r} is not one of stages {self.stages}"
            )
        return self
