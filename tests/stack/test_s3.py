"""Data, MLflow artifacts and the audit log on an S3-compatible server (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Project
from tests.s3server import s3_server

BUCKET = "conveyor-test"


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    with s3_server(BUCKET) as endpoint:
        yield endpoint


def test_train_from_s3_with_artifacts_and_audit_on_s3(
    project_dir: Path, edit_config, s3_endpoint: str
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.upload_file(str(project_dir / "data" / "train.parquet"), BUCKET, "lake/churn/train.parquet")
    edit_config(project_dir, "train: data/train.parquet", f"train: s3://{BUCKET}/lake/churn/train.parquet")
    edit_config(project_dir, "  dev: {}", f"  dev: {{artifact_store: 's3://{BUCKET}/churn'}}")

    project = Project.load(project_dir, env="dev")
    result = project.train()
    project.promote("staging", reason="s3 check")

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="churn/")["Contents"]]
    assert any(k.startswith("churn/mlflow/") and k.endswith("MLmodel") for k in keys)
    assert sum(k.startswith("churn/audit/churn/") for k in keys) == 2
    assert [e["action"] for e in project.audit()] == ["train", "promote"]
    newest, after = project.audit_log.page("churn", None, 1)  # listed through s3fs, newest first
    assert [e["action"] for e in newest] == ["promote"] and after is not None
    assert [e["action"] for e in project.audit_log.page("churn", None, 1, after)[0]] == ["train"]
    project.promote("prod", reason="listed again")  # a listing kept by the client is not stale
    assert project.audit_log.page("churn", ("promote",), 1)[0][0]["stage"] == "prod"
    assert result.metrics["roc_auc"] > 0.8
    assert project.client.get_run(result.run_id).data.tags["conveyor.data.rows"] == "5000"
