"""What training checks before it connects to a store: the gate's metric names, the
training data and its columns, the train (and evaluate) entrypoints importable.

A mistake in any of them is reported in the time it takes to find it, never after the
wait for the tracking store, and leaves no run and no version behind. The inputs found on
the way (the loaded table, the imported functions) are handed to the train step, so
nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.core.config.loader import LoadedConfig
from conveyor.lifecycle.data import Dataset, check_columns, load_dataset
from conveyor.lifecycle.entrypoint import load_entrypoint
from conveyor.lifecycle.gate_names import check_gate_names
from conveyor.lifecycle.progress import Reporter, SilentReporter


@dataclass(frozen=True)
class TrainingInputs:
    """The checked inputs of one training run."""

    dataset: Dataset = field(repr=False)
    train_fn: Callable[..., Any]
    evaluate_fn: Callable[..., Any] | None


def prepare_training(
    loaded: LoadedConfig, reporter: Reporter | None = None, dataset: Dataset | None = None,
) -> TrainingInputs:
    """Check everything training needs that no store is needed for; raises ConfigError,
    DataError or EntrypointError. ``dataset``: the data to train on when it is not the
    configured ``data.train`` (a retrain on fresh data)."""
    cfg = loaded.config
    step = (reporter or SilentReporter()).step
    check_gate_names(cfg)
    with step("import entrypoint"):
        train_fn = load_entrypoint(cfg.train.entrypoint, loaded.project_dir)
        evaluate_fn = load_entrypoint(cfg.train.evaluate, loaded.project_dir) if cfg.train.evaluate else None
    with step("load data"):
        dataset = dataset if dataset is not None else load_dataset(cfg.data, loaded.project_dir)
        check_columns(dataset.frame, cfg.target, cfg.features, dataset.source)
    return TrainingInputs(dataset, train_fn, evaluate_fn)
