"""The Spark session settings both Spark engines read (no JVM started here)."""

from __future__ import annotations

import pytest

from conveyor.core.config.schema import SparkSpec
from conveyor.data.spark import DEFAULT_MASTER, SUBMITTED, session_master, spark_conf, spark_master


def test_runtime_spark_becomes_spark_properties() -> None:
    spec = SparkSpec(driver_memory="2g", executor_cores=2, conf={"spark.sql.shuffle.partitions": 8,
                                                                 "spark.dynamicAllocation.enabled": True})
    assert spark_conf(spec) == {
        "spark.driver.memory": "2g", "spark.executor.cores": "2",
        "spark.sql.shuffle.partitions": "8", "spark.dynamicAllocation.enabled": "true",
    }
    assert spark_conf(None) == {}


def test_the_master_given_wins_over_the_settings() -> None:
    assert spark_master(SparkSpec(master="spark://head:7077"), "local[2]") == "local[2]"
    assert spark_master(SparkSpec(master="spark://head:7077"), None) == "spark://head:7077"
    assert spark_master(None, None) is None


def test_without_a_master_a_submitted_driver_keeps_spark_submits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SUBMITTED, raising=False)
    assert session_master(None) == DEFAULT_MASTER
    monkeypatch.setenv(SUBMITTED, "40123")  # a SparkApplication's driver, started by spark-submit
    assert session_master(None) is None
    assert session_master("local[2]") == "local[2]"
