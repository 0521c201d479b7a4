"""Promotion across stands: the version copied from the embedded SQLite stand into a stand on
PostgreSQL + S3 (moto), scored there with the same predictions; an injected failure leaves
nothing visible on the target and the next attempt succeeds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from conveyor import Project
from conveyor.core import tags
from conveyor.core.errors import StandCopyError
from conveyor.core.packs import record_location
from conveyor.lifecycle.baseline import BASELINE_ARTIFACT, load_baseline
from conveyor.lifecycle.version_copy import COPY_STEPS, FAIL_COPY_AT, INCOMPLETE
from conveyor.scoring import load_version
from tests.lifecycle.conftest import SimStand


def sim_client(stand: SimStand) -> MlflowClient:
    return MlflowClient(tracking_uri=stand.tracking_uri, registry_uri=stand.tracking_uri)


def s3_keys(stand: SimStand, prefix: str) -> list[str]:
    import boto3

    listed = boto3.client("s3", endpoint_url=stand.endpoint).list_objects_v2(Bucket=stand.bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def give_pack(project: Project, version: str) -> tuple[str, str]:
    """What `conveyor pack` records: a tar.gz in the stand's artifact store with its record
    beside it, its URI and SHA-256 as version tags."""
    payload = os.urandom(300_000)
    relative = f"packs/{hashlib.sha256(payload).hexdigest()[:16]}.tar.gz"
    with project.artifacts.open(relative, "wb") as handle:
        handle.write(payload)
    project.artifacts.write_json(record_location(relative), {"sha256": hashlib.sha256(payload).hexdigest()})
    uri = project.artifacts.url(relative)
    digest = hashlib.sha256(payload).hexdigest()
    project.client.set_model_version_tag(project.name, version, tags.PACK_URI, uri)
    project.client.set_model_version_tag(project.name, version, tags.PACK_SHA256, digest)
    return relative, digest


def visible_on_target(stand: SimStand, model: str) -> dict[str, object]:
    """What a reader of the target stand sees of the model: versions, aliases, live runs."""
    client = sim_client(stand)
    versions = client.search_model_versions(f"name = '{model}'")
    experiment = client.get_experiment_by_name(model)
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    aliases = {}
    if versions:
        aliases = {k: str(v) for k, v in client.get_registered_model(model).aliases.items()}
    return {"versions": len(versions), "aliases": aliases, "runs": len(runs)}


def test_cross_stand_promotion_copies_the_version_and_scores_the_same(
    stands_project: Path, sim_stand: SimStand
) -> None:
    project = Project.load(stands_project)
    trained = project.train()
    relative, digest = give_pack(project, trained.version)

    move = project.promote("int")

    assert move.changed and move.stand == "sim" and move.to_version == "1"
    assert move.copy is not None and move.copy["from_version"] == trained.version
    target = Project.load(stands_project, env="sim")
    assert target.stack.tracking_uri == sim_stand.tracking_uri
    mv = target.client.get_model_version(project.name, "1")
    source_mv = project.client.get_model_version(project.name, trained.version)
    lineage = json.loads(mv.tags[tags.LINEAGE_SOURCE])
    assert lineage["model"] == project.name and lineage["version"] == trained.version
    assert lineage["run_id"] == trained.run_id and lineage["registry"].startswith("sqlite:///")
    for key in (tags.GATE, tags.GATE_REASONS, tags.GATE_CHECKS, tags.DATA_SHA256):
        assert mv.tags[key] == source_mv.tags[key]
    assert not any(k.startswith("conveyor.stage.") and k != "conveyor.stage.int" for k in mv.tags)
    assert target.client.get_registered_model(project.name).aliases == {"int": 1}
    from mlflow.models import Model

    copied_model = Model.load(target.client.get_model_version_download_uri(project.name, "1"))
    assert copied_model.run_id == mv.run_id != trained.run_id  # the target's own run, not the source's
    assert target.client.get_logged_model(copied_model.model_id).source_run_id == mv.run_id
    assert copied_model.signature is not None  # the rest of the MLmodel as it was
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(target.client.get_model_version_download_uri(project.name, "1"))
    assert (loaded.metadata.run_id, loaded.metadata.model_id) == (mv.run_id, copied_model.model_id)

    # the run on the target holds what scoring and monitoring read
    run = target.client.get_run(mv.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[tags.COPY_STATE] == "complete"
    assert run.data.metrics["roc_auc"] == pytest.approx(trained.metrics["roc_auc"])
    copied_files = {a.path for a in target.client.list_artifacts(mv.run_id, "inference")}
    assert "inference/plan.pkl" in copied_files
    assert load_baseline(target.client, mv.run_id) is not None
    keys = s3_keys(sim_stand, f"{project.name}/")
    assert any(k.endswith("MLmodel") for k in keys)
    assert any(k.endswith(BASELINE_ARTIFACT) for k in keys)

    # the pack: copied to the target's S3, hash verified, URI rewritten
    assert mv.tags[tags.PACK_URI] == f"s3://{sim_stand.bucket}/{project.name}/{relative}"
    assert mv.tags[tags.PACK_SHA256] == digest
    import boto3

    body = boto3.client("s3", endpoint_url=sim_stand.endpoint).get_object(
        Bucket=sim_stand.bucket, Key=f"{project.name}/{relative}")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == digest
    assert f"{project.name}/{record_location(relative)}" in s3_keys(sim_stand, f"{project.name}/packs/")  # its record

    # scored on the target stand: the same predictions as on the source
    rows = pd.read_parquet(stands_project / "data" / "train.parquet").head(200)
    source_scores = load_version(project.client, project.name, trained.version).predict(rows)
    target_scorer = load_version(target.client, project.name, "1")
    target_scores = target_scorer.predict(rows)
    assert target_scorer.schema.names == load_version(project.client, project.name, trained.version).schema.names
    np.testing.assert_array_equal(np.asarray(source_scores.labels), np.asarray(target_scores.labels))
    np.testing.assert_allclose(np.asarray(source_scores.scores), np.asarray(target_scores.scores))


def test_promoting_the_same_version_again_reuses_its_copy(stands_project: Path, sim_stand: SimStand) -> None:
    project = Project.load(stands_project)
    project.train()
    first = project.promote("int")
    again = project.promote("int")
    assert not again.changed and again.to_version == first.to_version
    assert again.copy is not None and again.copy["reused"] is True
    assert visible_on_target(sim_stand, project.name)["versions"] == 1

    project.promote("prod")  # int and prod on one stand: an alias move there
    target = Project.load(stands_project, env="sim")
    assert target.client.get_registered_model(project.name).aliases == {"int": 1, "prod": 1}
    assert visible_on_target(sim_stand, project.name)["versions"] == 1


@pytest.mark.parametrize("step", ["artifacts", "pack", "version"])  # "version": the registered model exists
def test_a_failure_half_way_leaves_nothing_on_the_target_and_a_retry_succeeds(
    stands_project: Path, sim_stand: SimStand, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    assert step in COPY_STEPS
    project = Project.load(stands_project)
    trained = project.train()
    give_pack(project, trained.version)
    monkeypatch.setenv(FAIL_COPY_AT, step)
    with pytest.raises(StandCopyError) as failed:
        project.promote("int")
    assert f"failed at step {step!r}" in failed.value.message
    assert "stand 'sim'" in failed.value.message and "promote again" in (failed.value.hint or "")

    assert visible_on_target(sim_stand, project.name) == {"versions": 0, "aliases": {}, "runs": 0}
    assert sim_client(sim_stand).search_registered_models(f"name = '{project.name}'") == []  # not even empty
    assert s3_keys(sim_stand, f"{project.name}/packs/") == []  # neither the object nor its record
    assert s3_keys(sim_stand, f"{project.name}/mlflow/") == []  # the attempt's files removed too
    assert [e["action"] for e in project.audit()] == ["train"]  # no copy recorded on the source

    monkeypatch.delenv(FAIL_COPY_AT)
    move = project.promote("int")
    assert move.changed and move.to_version == "1"
    assert visible_on_target(sim_stand, project.name) == {"versions": 1, "aliases": {"int": "1"}, "runs": 1}


def test_a_killed_copy_is_cleaned_up_by_the_next_attempt(stands_project: Path, sim_stand: SimStand) -> None:
    """Killed after creating the registered model, before its version: the empty model says
    it is incomplete, and the next attempt reuses it."""
    project = Project.load(stands_project)
    project.train()
    env = {**os.environ, FAIL_COPY_AT: "version:kill", "COLUMNS": "200"}
    env.pop("CONVEYOR_ENV", None)
    killed = subprocess.run(
        [sys.executable, "-m", "conveyor", "promote", "--to", "int", "--project", str(stands_project)],
        check=False, env=env, capture_output=True, text=True, timeout=300,
    )
    assert killed.returncode == -9, killed.stderr
    client = sim_client(sim_stand)
    experiment = client.get_experiment_by_name(project.name)
    left = client.search_runs([experiment.experiment_id])
    assert [r.data.tags[tags.COPY_STATE] for r in left] == [INCOMPLETE]  # marked, never a version
    assert client.search_model_versions(f"name = '{project.name}'") == []
    assert client.get_registered_model(project.name).tags == {tags.COPY_STATE: INCOMPLETE}  # says it is empty

    move = project.promote("int")
    assert move.changed and move.to_version == "1"
    live = client.search_runs([experiment.experiment_id])
    assert [r.data.tags[tags.COPY_STATE] for r in live] == ["complete"]
    assert left[0].info.run_id not in {r.info.run_id for r in live}
    [model] = client.search_registered_models(f"name = '{project.name}'")  # the same one, reused
    assert tags.COPY_STATE not in model.tags and {k: str(v) for k, v in model.aliases.items()} == {"int": "1"}
    assert len(client.search_logged_models([experiment.experiment_id])) == 1  # the killed one's removed


def test_a_store_that_stops_answering_half_way_is_unreachable_and_leaves_nothing(
    stands_project: Path, sim_stand: SimStand, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.core.errors import StoreUnreachableError
    from tests.lifecycle.conftest import free_port

    project = Project.load(stands_project)
    project.train()
    project.stands.of_stage("int")  # reachable when the promotion starts
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # then gone
    with pytest.raises(StoreUnreachableError) as caught:
        project.promote("int")
    assert "to stand 'sim' failed at step 'artifacts'" in caught.value.message
    assert "promote again" in (caught.value.hint or "")
    assert visible_on_target(sim_stand, project.name) == {"versions": 0, "aliases": {}, "runs": 0}
