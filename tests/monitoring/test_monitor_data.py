"""`conveyor monitor --data` takes what `conveyor predict --input` takes: a file, a folder or a
glob, local or an fsspec URL with storage options; bad paths are one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conveyor.app import Project
from conveyor.monitoring.monitor import MonitorResult, run_monitor


@pytest.fixture(scope="module")
def reference(trained_project: Path) -> MonitorResult:
    """The drifted batch monitored as one file."""
    return run_monitor(Project.load(trained_project).lifecycle, data=trained_project / "data/drifted.parquet")


@pytest.fixture(scope="module")
def parts(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drifted batch in three Parquet parts plus Spark's metadata files."""
    folder = tmp_path_factory.mktemp("parts") / "drifted"
    folder.mkdir()
    frame = pd.read_parquet(trained_project / "data/drifted.parquet")
    for i, start in enumerate(range(0, len(frame), 700)):
        frame.iloc[start:start + 700].to_parquet(folder / f"part-{i:05d}.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000.parquet.crc").write_bytes(b"\0")
    return folder


def _summary(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def _assert_same_verdicts(summary: dict[str, Any], reference: MonitorResult) -> None:
    assert summary["rows"] == reference.rows == 2000
    assert summary["drift"]["drifted_features"] == reference.drift.drifted_features
    assert summary["drift"]["share"] == pytest.approx(reference.drift.share)
    assert summary["drift_detected"] is True


def test_a_folder_of_parts_gives_the_verdicts_of_the_whole_file(trained_project, parts, reference, cli):
    summary = _summary(cli("monitor", "--project", trained_project, "--data", parts, "--json"))
    _assert_same_verdicts(summary, reference)
    assert summary["window"]["source"] == str(parts)


def test_a_glob_of_parts_gives_the_verdicts_of_the_whole_file(trained_project, parts, reference, cli):
    summary = _summary(cli("monitor", "--project", trained_project, "--data", f"{parts}/part-*.parquet", "--json"))
    _assert_same_verdicts(summary, reference)


def test_a_glob_of_csv_files_is_read_whole(trained_project, tmp_path, reference, cli):
    frame = pd.read_parquet(trained_project / "data/drifted.parquet")
    frame.iloc[:1000].to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[1000:].to_csv(tmp_path / "b.csv", index=False)
    summary = _summary(cli("monitor", "--project", trained_project, "--data", tmp_path / "*.csv", "--json"))
    assert summary["rows"] == 2000
    assert set(reference.drift.drifted_features) <= set(summary["drift"]["drifted_features"])


def test_an_s3_folder_with_storage_options(trained_project, parts, reference, s3, cli):
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    for part in sorted(parts.glob("part-*.parquet")):
        fs.put(str(part), f"lake/monitor/drifted/{part.name}")
    options = [f"client_kwargs={json.dumps(s3['client_kwargs'])}", f"key={s3['key']}", f"secret={s3['secret']}"]
    flags = [arg for option in options for arg in ("--storage-option", option)]
    summary = _summary(cli("monitor", "--project", trained_project, "--data", "s3://lake/monitor/drifted/",
                           *flags, "--json"))
    _assert_same_verdicts(summary, reference)


def test_the_python_api_takes_storage_options_too(trained_project, parts, reference, s3):
    import s3fs

    s3fs.S3FileSystem(**s3).put(str(parts / "part-00000.parquet"), "lake/monitor/one/part-00000.parquet")
    result = run_monitor(Project.load(trained_project).lifecycle, data="s3://lake/monitor/one/part-00000.parquet",
                         storage_options=s3)
    assert result.rows == 700


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("missing-folder", "data to monitor not found"),
        ("missing-*.parquet", "data to monitor not found"),
        ("empty", "holds no CSV or Parquet files"),
        ("notes/readme.md", "cannot tell the format"),
        ("nope://bucket/data.parquet", "nope"),
    ],
)
def test_bad_data_paths_are_one_clear_error(trained_project, tmp_path, cli, data, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("not data")
    where = data if "://" in data else str(tmp_path / data)
    result = cli("monitor", "--project", trained_project, "--data", where)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_storage_option_without_a_value_is_a_usage_error(trained_project, parts, cli):
    result = cli("monitor", "--project", trained_project, "--data", parts, "--storage-option", "anon")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
