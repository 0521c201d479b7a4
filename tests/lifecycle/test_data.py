"""The training table is read through the one data source: a file, a folder or a glob."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from conveyor.core.config.schema import DataSpec
from conveyor.core.errors import DataError
from conveyor.lifecycle.data import load_dataset


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [float(i) for i in range(12)], "plan": ["a", "b", "c"] * 4, "y": [0, 1] * 6})


def test_a_single_file_keeps_the_sha256_of_its_bytes(tmp_path: Path, table: pd.DataFrame) -> None:
    table.to_parquet(tmp_path / "train.parquet")
    dataset = load_dataset(DataSpec(train="train.parquet"), tmp_path)
    pd.testing.assert_frame_equal(dataset.frame, table)
    assert dataset.fingerprint["sha256"] == hashlib.sha256((tmp_path / "train.parquet").read_bytes()).hexdigest()
    assert dataset.fingerprint["rows"] == 12 and dataset.source == str(tmp_path / "train.parquet")


def test_a_folder_and_a_glob_of_parts_read_as_one_table(tmp_path: Path, table: pd.DataFrame) -> None:
    (tmp_path / "train").mkdir()
    table.iloc[:5].to_csv(tmp_path / "train" / "part-0.csv", index=False)
    table.iloc[5:].to_csv(tmp_path / "train" / "part-1.csv", index=False)
    (tmp_path / "train" / "_SUCCESS").write_text("")
    folder = load_dataset(DataSpec(train="train"), tmp_path)
    glob = load_dataset(DataSpec(train="train/part-*.csv"), tmp_path)
    pd.testing.assert_frame_equal(folder.frame, table)
    pd.testing.assert_frame_equal(glob.frame, table)
    assert folder.fingerprint["sha256"] == glob.fingerprint["sha256"]


def test_missing_and_unreadable_training_data_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="training data not found") as missing:
        load_dataset(DataSpec(train="nope.parquet"), tmp_path)
    assert "data.train" in (missing.value.hint or "")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read training data"):
        load_dataset(DataSpec(train="broken.parquet"), tmp_path)
    (tmp_path / "train.bin").write_bytes(b"\0")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_dataset(DataSpec(train="train.bin"), tmp_path)
