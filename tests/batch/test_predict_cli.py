"""`conveyor predict`: exit codes and one clear message for what a user gets wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from conveyor.cli.app import app

runner = CliRunner()


def _predict(trained, *args: str):
    return runner.invoke(app, ["predict", *args, "--project", str(trained.path)])


def test_predict_json_summary(trained, new_batch, tmp_path: Path) -> None:
    result = _predict(trained, "churn@prod", "--input", str(new_batch), "--output", str(tmp_path / "o"),
                      "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert (summary["rows_in"], summary["rows_out"], summary["rejected"]) == (2500, 2500, 0)
    assert summary["model"]["version"] == trained.version


def test_bad_inputs_exit_non_zero_with_one_message(trained, new_batch, tmp_path: Path) -> None:
    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "precious.txt").write_text("keep me")
    cases = [
        (["churn@3", "--input", str(new_batch), "--output", str(tmp_path / "a")], 2, "ambiguous"),
        (["churn@gold", "--input", str(new_batch), "--output", str(tmp_path / "b")], 8, "no version at stage 'gold'"),
        (["nomodel@prod", "--input", str(new_batch), "--output", str(tmp_path / "c")], 8, "no registered model"),
        (["churn@prod", "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "d")], 1, "does not exist"),
        (["churn@prod", "--input", str(new_batch), "--output", str(tmp_path / "s" / "{slot}")], 2,
         "placeholder, which only `conveyor scheduler` fills in"),
        (["churn@prod", "--input", str(new_batch)], 2, "needs an input and an output"),
        (["churn@prod", "--input", str(new_batch), "--output", str(tmp_path / "e"), "--engine", "dask"], 2, "unknown engine"),
        (["churn@prod", "--input", str(new_batch), "--output", str(tmp_path / "occupied")], 5, "not a conveyor output"),
    ]
    for args, code, message in cases:
        result = _predict(trained, *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output


def test_schema_mismatch_and_bad_rows_exit_4(trained, new_batch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(new_batch).drop(columns=["region"]).to_parquet(broken)
    result = _predict(trained, "churn@prod", "--input", str(broken), "--output", str(tmp_path / "o"))
    assert result.exit_code == 4 and "lacks model column(s) ['region']" in result.output

    dirty = pd.read_parquet(new_batch).head(50).astype({"support_calls": object})
    dirty.loc[3, "support_calls"] = "many"
    dirty.to_csv(tmp_path / "dirty.csv", index=False)
    result = _predict(trained, "churn@prod", "--input", str(tmp_path / "dirty.csv"), "--output", str(tmp_path / "p"), "--workers", "1")
    assert result.exit_code == 4 and "row 3 of the input is bad: support_calls: 'many' is not a number" in result.output


def test_help_stays_light() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from conveyor.cli.app import app; "
        "r = CliRunner().invoke(app, ['predict', '--help']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('mlflow', 'pandas', 'sklearn', 'pyspark', 'pyarrow') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_storage_options_on_the_command_line_reach_s3(trained, new_batch, s3) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.put(str(new_batch), "lake/cli/in/batch.parquet")
    options = [f"client_kwargs={json.dumps(s3['client_kwargs'])}", f"key={s3['key']}", f"secret={s3['secret']}"]
    flags = [arg for option in options for arg in ("--storage-option", option)]
    result = _predict(trained, "churn@prod", "--input", "s3://lake/cli/in/", "--output", "s3://lake/cli/out/",
                      "--workers", "1", *flags, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{"):])["rows_in"] == 2500
    assert fs.exists("lake/cli/out/_SUCCESS")
    bad = _predict(trained, "churn@prod", "--input", "s3://lake/cli/in/", "--output", "s3://lake/cli/o2/",
                   "--storage-option", "=x")
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_an_input_that_takes_in_an_earlier_output_is_refused(trained, new_batch, tmp_path: Path) -> None:
    data = tmp_path / "lake"
    data.mkdir()
    (data / "daily.parquet").write_bytes(new_batch.read_bytes())
    first = _predict(trained, "churn@prod", "--input", f"{data}/**/*.parquet", "--output", str(data / "scores"), "--workers", "1")
    assert first.exit_code == 0, first.output
    again = _predict(trained, "churn@prod", "--input", f"{data}/**/*.parquet", "--output", str(tmp_path / "again"))
    assert again.exit_code == 1, again.output
    assert f"takes in the batch output {data / 'scores'}" in again.output
    assert "Traceback" not in again.output and not (tmp_path / "again").exists()
