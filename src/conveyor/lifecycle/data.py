"""Load the training table, check its columns, fingerprint it and split it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.config.schema import DataSpec, FeatureSpec
from conveyor.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    source: str
    fingerprint: dict[str, Any]


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    sensitive_test: pd.DataFrame
    test_frame: pd.DataFrame  # every column of the test rows (a champion may need others)


def resolve_source(source: str, project_dir: Path) -> str:
    if "://" in source or Path(source).is_absolute():
        return source
    return str((project_dir / source).resolve())


def load_dataset(spec: DataSpec, project_dir: Path) -> Dataset:
    """The training table (a file, folder or glob; local or an fsspec URL) and its fingerprint."""
    from conveyor.data import SourceError, SourceNotFoundError, open_source

    source = resolve_source(spec.train, project_dir)
    try:
        opened = open_source(source, format=spec.format)
        frame = opened.frame()
        digest = opened.digest()
    except SourceNotFoundError:
        raise DataError(
            f"training data not found: {source}",
            hint="fix data.train in conveyor.yaml (paths are relative to the project folder)",
        ) from None
    except SourceError as exc:
        raise DataError(f"cannot read training data {source}: {exc.message}", hint=exc.hint) from None
    fingerprint = {
        "sha256": digest,
        "rows": len(frame),
        "columns": int(frame.shape[1]),
        "schema": {str(c): str(t) for c, t in frame.dtypes.items()},
        "source": source,
    }
    return Dataset(frame=frame, source=source, fingerprint=fingerprint)


def frame_dataset(frame: pd.DataFrame, source: str) -> Dataset:
    """A dataset held in memory (e.g. fresh labelled rows from monitoring), fingerprinted by
    the SHA-256 of its column names, types and row contents."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\0".join(f"{c}:{t}" for c, t in frame.dtypes.items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    fingerprint = {
        "sha256": digest.hexdigest(),
        "rows": len(frame),
        "columns": int(frame.shape[1]),
        "schema": {str(c): str(t) for c, t in frame.dtypes.items()},
        "source": source,
    }
    return Dataset(frame=frame.reset_index(drop=True), source=source, fingerprint=fingerprint)


def check_columns(frame: pd.DataFrame, target: str, features: FeatureSpec, source: str) -> None:
    """Every configured column must exist; name all missing ones at once."""
    wanted = [target, *features.inputs, *features.sensitive]
    missing = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if missing:
        raise DataError(
            f"column(s) {missing} not found in {source}; it has {list(map(str, frame.columns))}",
            hint="fix target/features in conveyor.yaml or the data file",
        )
    if frame[target].isna().any():
        count = int(frame[target].isna().sum())
        raise DataError(
            f"target column {target!r} has {count} missing value(s) in {source}",
            hint="drop or fill unlabelled rows before training",
        )
    if len(frame) < 10:
        raise DataError(f"only {len(frame)} rows in {source}; at least 10 are needed to split")


def split_dataset(
    frame: pd.DataFrame, target: str, features: FeatureSpec, spec: DataSpec, task: str
) -> Split:
    from sklearn.model_selection import train_test_split

    split = spec.split
    if split.method == "time":
        column = split.column
        assert column is not None
        if column not in frame.columns:
            raise DataError(f"split column {column!r} not found in the training data")
        ordered = frame.sort_values(column, kind="stable")
        cut = round(len(ordered) * (1 - split.test_size))
        train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    else:
        stratify = None
        if task == "classification" and split.stratify:
            counts = frame[target].value_counts()
            if counts.min() >= 2:
                stratify = frame[target]
        train, test = train_test_split(
            frame, test_size=split.test_size, random_state=split.seed, stratify=stratify
        )
    if len(train) == 0 or len(test) == 0:
        raise DataError("the split left an empty train or test set; adjust data.split.test_size")
    inputs = features.inputs
    return Split(
        X_train=train[inputs],
        X_test=test[inputs],
        y_train=train[target],
        y_test=test[target],
        sensitive_test=test[features.sensitive],
        test_frame=test,
    )
