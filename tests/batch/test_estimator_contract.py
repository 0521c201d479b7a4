"""`conveyor predict` on scikit-learn's bundled data gives what the estimator gives: its
refusals as bad rows (with the field and the reason), its numbers for every other row, and
one probability column per class for a classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conveyor.cli.app import app
from tests.datasets import DatasetProject

runner = CliRunner()


def _predict(project: DatasetProject, source: Path, out: Path, *options: str):
    return runner.invoke(app, ["predict", f"{project.name}@prod", "--input", str(source), "--output", str(out),
                               "--workers", "1", "--project", str(project.path), *options])


def _refuses(model: object, row: pd.DataFrame) -> bool:
    try:
        model.predict(row)  # type: ignore[attr-defined]
    except ValueError:
        return True
    return False


def _dirty_diabetes(diabetes: DatasetProject, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = diabetes.frame[diabetes.features].head(40).reset_index(drop=True)
    frame.loc[3, "bmi"] = np.nan  # StandardScaler lets NaN through; Ridge raises on it
    frame.loc[11, "s5"] = np.inf  # StandardScaler raises on infinity
    frame.loc[20, "bp"] = 1e308  # finite, but infinite once scaled: Ridge raises
    path = tmp_path / "dirty.parquet"
    frame.to_parquet(path)
    return path, frame


def test_a_missing_value_without_an_imputer_is_a_bad_row_not_a_nan_prediction(
    diabetes: DatasetProject, tmp_path: Path
) -> None:
    path, frame = _dirty_diabetes(diabetes, tmp_path)
    model = diabetes.model()
    assert [i for i in range(len(frame)) if _refuses(model, frame.iloc[[i]])] == [3, 11, 20]

    failed = _predict(diabetes, path, tmp_path / "fail")
    assert failed.exit_code == 4, failed.output
    assert "row 3 of the input is bad: bmi: missing value: Ridge does not accept missing values" in failed.output
    assert not (tmp_path / "fail" / "_manifest.json").exists()

    out = tmp_path / "reject"
    rejected = _predict(diabetes, path, out, "--on-bad-rows", "reject")
    assert rejected.exit_code == 0, rejected.output
    rejects = pd.read_parquet(out / "_rejects")
    assert rejects["row"].tolist() == [3, 11, 20]
    reasons = rejects["reason"].tolist()
    assert reasons[0].startswith("bmi: missing value")
    assert reasons[1] == "s5: inf is infinite or too large for StandardScaler"
    assert reasons[2] == "bp: 1e+308 is infinite or too large for Ridge"
    scored = pd.read_parquet(out)
    good = frame.drop(index=[3, 11, 20]).reset_index(drop=True)
    assert not scored["prediction"].isna().any()
    np.testing.assert_allclose(scored["prediction"], model.predict(good), rtol=1e-12)  # type: ignore[attr-defined]
    assert "probability" not in scored.columns  # a regressor has none


def test_text_in_a_numeric_column_is_refused_with_its_value(diabetes: DatasetProject, tmp_path: Path) -> None:
    frame = diabetes.frame[diabetes.features].head(10).astype({"age": object})
    frame.loc[4, "age"] = "forty"
    path = tmp_path / "text.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError):
        diabetes.model().predict(frame.iloc[[4]])  # type: ignore[attr-defined]
    result = _predict(diabetes, path, tmp_path / "o")
    assert result.exit_code == 4 and "row 4 of the input is bad: age: 'forty' is not a number" in result.output


def test_an_unknown_category_is_refused_and_every_class_gets_a_probability_column(
    wine: DatasetProject, tmp_path: Path
) -> None:
    frame = wine.frame[wine.features].iloc[::4].reset_index(drop=True)
    frame.loc[2, "hue_band"] = "violet"  # OneHotEncoder(handle_unknown="error") raises on it
    path = tmp_path / "wine.parquet"
    frame.to_parquet(path)
    model = wine.model()
    assert _refuses(model, frame.iloc[[2]]) and not _refuses(model, frame.iloc[[1]])

    failed = _predict(wine, path, tmp_path / "fail")
    assert failed.exit_code == 4
    assert "row 2 of the input is bad: hue_band: unknown category 'violet'" in failed.output

    out = tmp_path / "reject"
    result = _predict(wine, path, out, "--on-bad-rows", "reject")
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out / "_rejects")["row"].tolist() == [2]
    scored = pd.read_parquet(out)
    good = frame.drop(index=[2]).reset_index(drop=True)
    proba = model.predict_proba(good)  # type: ignore[attr-defined]
    columns = [f"probability_{c}" for c in model.classes_]  # type: ignore[attr-defined]
    assert columns == ["probability_0", "probability_1", "probability_2"]
    np.testing.assert_allclose(scored[columns].to_numpy(), proba, rtol=0, atol=1e-15)
    assert scored["prediction"].tolist() == model.predict(good).tolist()  # type: ignore[attr-defined]
    np.testing.assert_allclose(scored["probability"], proba.max(axis=1), rtol=0, atol=1e-15)
