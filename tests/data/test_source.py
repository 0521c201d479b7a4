"""One source for every reader: files, folders and globs of CSV or Parquet, local or on S3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from conveyor.data import SourceError, SourceNotFoundError, open_source


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three Parquet parts (the last with an extra column), Spark's metadata files beside them."""
    root = tmp_path / "parts"
    (root / "day=2").mkdir(parents=True)
    pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}).to_parquet(root / "part-0.parquet")
    pd.DataFrame({"x": [3.0], "c": ["c"]}).to_parquet(root / "part-1.parquet")
    pd.DataFrame({"x": [4.0, 5.0, 6.0], "c": ["d", "e", "f"], "y": [1, 2, 3]}).to_parquet(
        root / "day=2" / "part-2.parquet")
    (root / "_SUCCESS").write_text("")
    (root / "_temporary").mkdir()
    (root / "_temporary" / "part-9.parquet").write_text("half written")
    (root / ".part-0.parquet.crc").write_text("")
    return root


def test_a_folder_is_its_data_files_in_sorted_order(folder: Path) -> None:
    source = open_source(str(folder))
    names = [Path(f).relative_to(folder).as_posix() for f in source.files]
    assert names == ["day=2/part-2.parquet", "part-0.parquet", "part-1.parquet"]
    assert source.format == "parquet" and source.total_rows() == 6


def test_a_glob_picks_the_matching_files(folder: Path) -> None:
    source = open_source(f"{folder}/part-*.parquet")
    assert [Path(f).name for f in source.files] == ["part-0.parquet", "part-1.parquet"]
    assert source.frame()["x"].tolist() == [1.0, 2.0, 3.0]


def test_frames_stream_only_the_columns_asked_for_in_bounded_batches(folder: Path) -> None:
    source = open_source(f"{folder}/part-*.parquet")
    frames = list(source.frames(["x"], batch_rows=1))
    assert [len(f) for f in frames] == [1, 1, 1]
    assert all(list(f.columns) == ["x"] for f in frames)


def test_frame_joins_files_whose_columns_differ(folder: Path) -> None:
    frame = open_source(str(folder)).frame()
    assert len(frame) == 6 and frame["y"].notna().sum() == 3


def test_an_empty_parquet_file_streams_one_empty_frame(tmp_path: Path) -> None:
    pd.DataFrame({"x": pd.Series([], dtype=float), "c": pd.Series([], dtype=object)}).to_parquet(
        tmp_path / "empty.parquet")
    frames = list(open_source(str(tmp_path / "empty.parquet")).frames(["c"], 10))
    assert [len(f) for f in frames] == [0] and list(frames[0].columns) == ["c"]


def test_batches_regroup_to_a_fixed_size_across_files(folder: Path) -> None:
    sizes = [t.num_rows for t in open_source(f"{folder}/part-*.parquet").batches(2)]
    assert sizes == [2, 1]


def test_csv_is_read_with_pandas_types_and_gzip(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1, 2], "when": ["2026-01-01", "2026-01-02"]}).to_csv(tmp_path / "a.csv.gz", index=False)
    source = open_source(str(tmp_path / "a.csv.gz"))
    frame = source.frame()
    assert source.format == "csv" and frame["x"].tolist() == [1, 2]
    assert frame["when"].tolist() == ["2026-01-01", "2026-01-02"]  # text, as pd.read_csv gives
    assert [f["x"].tolist() for f in source.frames(["x"], 1)] == [[1], [2]]


def test_the_digest_of_one_file_is_the_sha256_of_its_bytes(folder: Path) -> None:
    path = folder / "part-0.parquet"
    assert open_source(str(path)).digest() == hashlib.sha256(path.read_bytes()).hexdigest()
    whole, other = open_source(str(folder)).digest(), open_source(f"{folder}/part-*.parquet").digest()
    assert len(whole) == 64 and whole != other


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        ("missing", SourceNotFoundError, "does not exist"),
        ("nothing-*.parquet", SourceNotFoundError, "no files match"),
        ("only-metadata", SourceError, "holds no CSV or Parquet files"),
        ("mixed", SourceError, "mixes CSV and Parquet"),
        ("notes.md", SourceError, "cannot tell the format"),
    ],
)
def test_bad_sources_name_the_problem(tmp_path: Path, where: str, error: type, message: str) -> None:
    (tmp_path / "only-metadata").mkdir()
    (tmp_path / "only-metadata" / "_SUCCESS").write_text("")
    (tmp_path / "mixed").mkdir()
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "mixed" / "a.csv", index=False)
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "mixed" / "b.parquet")
    (tmp_path / "notes.md").write_text("not data")
    with pytest.raises(error, match=message):
        open_source(str(tmp_path / where))


def test_an_unreadable_file_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceError, match="cannot read"):
        open_source(str(tmp_path / "broken.parquet")).schema()


def test_an_unknown_protocol_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="nope"):
        open_source("nope://bucket/data.parquet")


def test_an_s3_folder_with_storage_options(s3: dict, folder: Path) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    for name in ("part-0.parquet", "part-1.parquet", "_SUCCESS"):
        fs.put(str(folder / name), f"lake/source/{name}")
    source = open_source("s3://lake/source/", storage_options=s3)
    assert [f.rsplit("/", 1)[-1] for f in source.files] == ["part-0.parquet", "part-1.parquet"]
    assert source.columns == ["x", "c"] and source.total_rows() == 3
    assert [len(f) for f in source.frames(["c"], 2)] == [2, 1]
    assert sum(t.num_rows for t in source.batches(2)) == 3
    with pytest.raises(SourceNotFoundError):
        open_source("s3://lake/elsewhere/", storage_options=s3)


def test_frames_fill_a_column_a_later_part_lacks_with_missing_values(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}).to_parquet(tmp_path / "part-0.parquet")
    pd.DataFrame({"x": [3.0]}).to_parquet(tmp_path / "part-1.parquet")
    source = open_source(str(tmp_path))
    streamed = pd.concat(source.frames(["x", "c"], 10), ignore_index=True)
    assert streamed["x"].tolist() == [1.0, 2.0, 3.0]
    assert streamed["c"].tolist()[:2] == ["a", "b"] and pd.isna(streamed["c"].iloc[2])
    with pytest.raises(SourceError, match="no column"):
        list(source.frames(["nope"], 10))


def test_parts_group_row_groups_of_one_file_and_read_like_the_whole(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "groups"
    root.mkdir()
    pq.write_table(pa.table({"x": list(range(10)), "c": list("abcdefghij")}), root / "a.parquet", row_group_size=3)
    pq.write_table(pa.table({"x": [10, 11]}), root / "b.parquet")  # written without "c"
    source = open_source(str(root))

    parts = source.parts(rows_per_part=6)
    assert [(Path(p.path).name, p.row_groups, p.rows) for p in parts] == [
        ("a.parquet", (0, 1), 6), ("a.parquet", (2, 3), 4), ("b.parquet", (0,), 2)]
    assert [p.index for p in parts] == [0, 1, 2]
    read = pd.concat([f for p in parts for f in source.frames(["x", "c"], 100, part=p)], ignore_index=True)
    pd.testing.assert_frame_equal(read, pd.concat(list(source.frames(["x", "c"], 100)), ignore_index=True))


def test_csv_parts_are_whole_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        pd.DataFrame({"x": [1, 2]}).to_csv(tmp_path / f"{name}.csv", index=False)
    source = open_source(str(tmp_path))
    parts = source.parts(rows_per_part=1)
    assert [(Path(p.path).name, p.rows) for p in parts] == [("a.csv", None), ("b.csv", None)]
    assert source.part_source(parts[1]).frame()["x"].tolist() == [1, 2]


def test_a_part_that_is_not_parquet_is_a_source_error(tmp_path: Path) -> None:
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"not parquet")
    with pytest.raises(SourceError, match="b.parquet"):
        open_source(str(tmp_path)).parts(rows_per_part=10)
