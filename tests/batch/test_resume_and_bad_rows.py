"""Atomic commit and resume after an injected failure; the fail and reject policies; schema mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor.batch import BadRowError, HookError, SchemaMismatchError, predict
from conveyor.core.config.schema import BatchSpec

HOOK = '''
from pathlib import Path

def flaky(frame):
    """Fails on the chunk holding customer 11001500 while a FAIL file sits next to this module."""
    if (Path(__file__).parent / "FAIL").exists() and (frame["customer_id"] == 11001500).any():
        raise RuntimeError("injected failure")
    return frame
'''


def test_failed_run_leaves_nothing_complete_and_resume_finishes(own_project, new_batch, expected, tmp_path: Path) -> None:
    trained = own_project  # the hook and its FAIL marker go into this test's copy of the project
    (trained.path / "flaky_hooks.py").write_text(HOOK)
    (trained.path / "FAIL").write_text("")
    trained.project.config.batch = BatchSpec(postprocess="flaky_hooks.py:flaky")
    out = tmp_path / "scores"
    with pytest.raises(HookError, match="injected failure"):
        predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=500, workers=1)
    assert not out.exists()  # a local output appears only when it is committed, in one rename
    staged = sorted(p.name for p in (tmp_path / ".scores.conveyor-staging" / "_temporary").glob("part-*.parquet"))
    assert staged[:3] == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert "part-000003.parquet" not in staged  # the failed chunk; a later one may have finished

    (trained.path / "FAIL").unlink()
    result = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=500, workers=1, resume=True)
    assert result.manifest.resumed_parts == len(staged)
    assert [p.index for p in result.manifest.parts] == [0, 1, 2, 3, 4]
    scored = pd.read_parquet(out)
    frame = pd.read_parquet(new_batch)
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    assert scored["prediction"].tolist() == expected(frame)["prediction"].tolist()
    # the merged profile covers the parts of both runs: staged profiles survive the failure
    assert result.manifest.profiles == {"path": "_profile.json", "rows": 2500, "parts": 5}
    assert json.loads((out / "_profile.json").read_text())["rows"] == 2500
    assert not (tmp_path / ".scores.conveyor-staging").exists()

    again = predict(trained.project, "churn@prod", str(new_batch), str(out), batch_size=500, resume=True)
    assert again.already_committed and again.manifest.rows_out == 2500


def _dirty_csv(trained, tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = pd.read_parquet(trained.batch("dirty", rows=600, seed=41))
    frame["tenure_months"] = frame["tenure_months"].astype(object)
    frame.loc[[5, 250, 599], "tenure_months"] = ["abc", "twelve", "?"]
    path = tmp_path / "dirty.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_fail_policy_stops_at_the_first_bad_row(trained, tmp_path: Path) -> None:
    path, _ = _dirty_csv(trained, tmp_path)
    with pytest.raises(BadRowError) as info:
        predict(trained.project, "churn@prod", str(path), str(tmp_path / "out"), batch_size=200, workers=1)
    assert info.value.row == 5
    assert "tenure_months" in info.value.reason and "'abc'" in info.value.reason
    assert not (tmp_path / "out" / "_manifest.json").exists()


def test_reject_policy_sets_bad_rows_aside_with_a_reason(trained, expected, tmp_path: Path) -> None:
    path, frame = _dirty_csv(trained, tmp_path)
    out = tmp_path / "out"
    result = predict(trained.project, "churn@prod", str(path), str(out), batch_size=200, workers=1, on_bad_rows="reject")
    assert (result.manifest.rows_in, result.manifest.rows_out, result.manifest.rejected) == (600, 597, 3)
    rejects = pd.read_parquet(out / "_rejects")
    assert rejects["row"].tolist() == [5, 250, 599]
    assert rejects["reason"].str.contains("tenure_months").all()
    assert rejects["customer_id"].tolist() == frame.loc[[5, 250, 599], "customer_id"].tolist()
    scored = pd.read_parquet(out)
    good = pd.read_csv(path).drop(index=[5, 250, 599]).reset_index(drop=True)
    good["tenure_months"] = good["tenure_months"].astype(float)
    assert scored["prediction"].tolist() == expected(good)["prediction"].tolist()


def test_schema_mismatch_is_an_error_before_scoring(trained, new_batch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(new_batch).drop(columns=["plan"]).to_parquet(broken)
    with pytest.raises(SchemaMismatchError, match=r"lacks model column\(s\) \['plan'\]"):
        predict(trained.project, "churn@prod", str(broken), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()

    typed = tmp_path / "typed.parquet"
    pd.read_parquet(new_batch).assign(region=1).to_parquet(typed)
    with pytest.raises(SchemaMismatchError, match="region is int64, the model needs string"):
        predict(trained.project, "churn@prod", str(typed), str(tmp_path / "out"))
