"""The Spark engine in local mode: same output, same commit, and S3 in and out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conveyor.batch import predict
from conveyor.batch.engines.spark import SparkEngine


def test_spark_output_equals_direct_predictions(trained, spark, expected, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, rows in enumerate((1500, 700)):
        trained.batch(f"spark{i}", rows=rows, seed=50 + i).rename(folder / f"f{i}.parquet")
    engine = SparkEngine(master="local[2]")
    result = predict(trained.project, "churn@prod", str(folder), str(tmp_path / "out"), batch_size=500, engine=engine)

    assert result.manifest.engine == "spark" and engine.parts_planned == len(result.manifest.parts) >= 4
    frame = pd.concat([pd.read_parquet(folder / "f0.parquet"), pd.read_parquet(folder / "f1.parquet")], ignore_index=True)
    scored = pd.read_parquet(tmp_path / "out")
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    want = expected(frame)
    assert scored["prediction"].tolist() == want["prediction"].tolist()
    assert scored["probability"].to_numpy() == pytest.approx(want["probability"].to_numpy(), abs=1e-12)
    assert set(scored["model_version"]) == {trained.version}
    assert (tmp_path / "out" / "_manifest.json").exists() and not (tmp_path / "out" / "_temporary").exists()


def test_spark_reads_and_writes_s3(trained, spark, s3, new_batch, expected) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**s3)
    fs.put(str(new_batch), "lake/spark-in/new.parquet")
    engine = SparkEngine(master="local[2]")
    result = predict(
        trained.project, "churn@prod", "s3://lake/spark-in/", "s3://lake/spark-out/",
        batch_size=1000, engine=engine, storage_options=s3,
    )
    assert result.manifest.rows_out == 2500
    assert fs.exists("lake/spark-out/_manifest.json") and not fs.exists("lake/spark-out/_temporary")
    with fs.open("lake/spark-out/part-000000.parquet", "rb") as handle:
        first = pd.read_parquet(handle)
    frame = pd.read_parquet(new_batch)
    assert first["prediction"].tolist() == expected(frame)["prediction"].tolist()[: len(first)]
