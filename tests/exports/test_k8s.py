"""`conveyor export k8s`: SparkApplications the operator's CRD accepts, core objects the
Kubernetes schemas accept, and Spark settings the CRD rejects caught before writing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from conveyor.exports.validate import CRD, KUBERNETES_VERSION, spark_application_schema

REPO = Path(__file__).resolve().parents[2]
SHARED_CRD = next((p for p in (REPO.parent / "shared", REPO.parent.parent / "shared") if p.is_dir()),
                  REPO.parent / "shared") / "data" / "k8s" / CRD.name
PACK = "s3://ml-artifacts/churn/packs/0123abcd.tar.gz"
KUBERNETES = """  kubernetes:
    image: registry.example.com/conveyor-spark:4.0
    namespace: ml
    service_account: spark
    secrets: [churn-mlflow]
runtime:
  spark: {driver_memory: 2g, executor_memory: 4g, executor_instances: 3, executor_cores: 2,
          conf: {spark.sql.shuffle.partitions: 64}}
"""


@pytest.fixture
def k8s_project(scheduled_project: Path) -> Path:
    with (scheduled_project / "conveyor.yaml").open("a") as config:
        config.write(KUBERNETES)
    return scheduled_project


def _export(cli: Callable[..., Any], project: Path, out: Path, *extra: str) -> Any:
    return cli("export", "k8s", "--project", project, "--env", "dev", "--out", out, "--pack", PACK, *extra)


def _objects(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.iterdir())}


def test_the_vendored_crd_is_the_operators(tmp_path: Path) -> None:
    if not SHARED_CRD.is_file():
        pytest.skip(f"{SHARED_CRD} is not beside this checkout (the vendored copy is used)")
    assert CRD.read_bytes() == SHARED_CRD.read_bytes()


def test_spark_applications_follow_the_config_and_the_crd(
    cli: Callable[..., Any], k8s_project: Path, tmp_path: Path
) -> None:
    result = _export(cli, k8s_project, tmp_path / "k8s")
    assert result.exit_code == 0, result.output
    objects = _objects(tmp_path / "k8s")
    apps = {name: obj for name, obj in objects.items() if obj["kind"] == "SparkApplication"}
    assert sorted(apps) == [f"churn-dev-{p}.sparkapplication.yaml" for p in ("batch", "monitor", "train")]
    validator = Draft7Validator(spark_application_schema())
    for app in apps.values():
        assert list(validator.iter_errors(app)) == []
        spec = app["spec"]
        assert (app["apiVersion"], spec["type"], spec["pythonVersion"], spec["mode"]) == (
            "sparkoperator.k8s.io/v1beta2", "Python", "3", "cluster")
        assert spec["mainApplicationFile"].endswith("/exports/churn/conveyor_job.py")
        assert spec["deps"]["archives"] == ["s3a://ml-artifacts/churn/packs/0123abcd.tar.gz#environment"]
        assert spec["sparkConf"]["spark.archives"] == spec["deps"]["archives"][0]
        assert spec["sparkConf"]["spark.sql.shuffle.partitions"] == "64"
        for role in ("driver", "executor"):
            assert {"name": "PYSPARK_PYTHON", "value": "./environment/bin/python"} in spec[role]["env"]
            assert spec[role]["envFrom"] == [{"secretRef": {"name": "churn-mlflow"}}]
        assert "PYSPARK_DRIVER_PYTHON" not in yaml.safe_dump(app)
        assert (spec["driver"]["memory"], spec["executor"]["memory"]) == ("2g", "4g")
        assert (spec["executor"]["instances"], spec["executor"]["cores"]) == (3, 2)
        assert spec["driver"]["serviceAccount"] == "spark"
        assert spec["restartPolicy"] == {"type": "OnFailure", "onFailureRetries": 2, "onFailureRetryInterval": 30,
                                         "onSubmissionFailureRetries": 2, "onSubmissionFailureRetryInterval": 30}
    monitor = json.loads(apps["churn-dev-monitor.sparkapplication.yaml"]["spec"]["arguments"][0])
    assert (monitor["kind"], monitor["engine"], monitor["retrain"]) == ("monitor", "spark", True)
    train = apps["churn-dev-train.sparkapplication.yaml"]["spec"]["arguments"]
    assert train == ['{"project":"' + str(k8s_project.resolve()) + '","env":"dev","kind":"train","gate":true}']


def test_core_objects_pass_the_kubernetes_schemas(cli: Callable[..., Any], k8s_project: Path, tmp_path: Path) -> None:
    assert _export(cli, k8s_project, tmp_path / "k8s").exit_code == 0
    objects = _objects(tmp_path / "k8s")
    core = {name: obj for name, obj in objects.items() if obj["kind"] != "SparkApplication"}
    assert sorted(obj["kind"] for obj in core.values()) == [
        "CronJob", "CronJob", "CronJob", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"]
    for obj in core.values():
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    cron = core["churn-dev-batch.cronjob.yaml"]["spec"]
    assert (cron["schedule"], cron["concurrencyPolicy"], cron["startingDeadlineSeconds"]) == ("0 2 * * *", "Forbid", 300)
    args = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["conveyor", "job", "run"] and args[-2:] == ["--env-pack", PACK]
    assert '"slot":"latest"' in args[3]
    container = core["churn-dev-serve.deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    annotations = core["churn-dev-serve.deployment.yaml"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"


def test_a_stand_with_airflow_gets_no_cronjobs(
    cli: Callable[..., Any], k8s_project: Path, edit_config: Callable[..., None], tmp_path: Path
) -> None:
    edit_config(k8s_project, "  dev: {}", f"  dev: {{dags: {tmp_path / 'airflow-dags'}}}")
    assert _export(cli, k8s_project, tmp_path / "k8s").exit_code == 0
    assert not [p for p in (tmp_path / "k8s").iterdir() if p.name.endswith(".cronjob.yaml")]


def test_a_spark_setting_the_crd_rejects_is_caught_before_writing(
    cli: Callable[..., Any], k8s_project: Path, edit_config: Callable[..., None], tmp_path: Path
) -> None:
    edit_config(k8s_project, "spark.sql.shuffle.partitions: 64", "spark.sql.shuffle.partitions: 64, spark.driver.cores: two")
    result = _export(cli, k8s_project, tmp_path / "k8s")
    assert result.exit_code == 2
    assert "runtime.spark.conf.spark.driver.cores" in result.output
    assert "spec.driver.cores" in result.output
    assert not (tmp_path / "k8s").exists()


def test_without_an_image_or_a_pack_nothing_is_written(
    cli: Callable[..., Any], scheduled_project: Path, k8s_project: Path, tmp_path: Path
) -> None:
    result = cli("export", "k8s", "--project", k8s_project, "--env", "dev", "--out", tmp_path / "a")
    assert result.exit_code == 2 and "--pack" in result.output
    edit = (k8s_project / "conveyor.yaml").read_text().replace("    image: registry.example.com/conveyor-spark:4.0\n", "")
    (k8s_project / "conveyor.yaml").write_text(edit)
    result = _export(cli, k8s_project, tmp_path / "b")
    assert result.exit_code == 2 and "export.kubernetes.image" in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
