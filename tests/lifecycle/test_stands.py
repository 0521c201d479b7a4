"""Stages on stands: which stand a move happens on, rollback with the target stand's
history, audit events on both stands, the champion read on its own stand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor import Project
from conveyor.core import tags
from conveyor.core.errors import StoreUnreachableError
from conveyor.lifecycle.audit import AuditLog
from conveyor.lifecycle.registry import Registry
from conveyor.lifecycle.stands import Stand, Stands
from conveyor.stack.artifacts import ArtifactStore
from conveyor.stack.locks import move_lock
from conveyor.stack.resolve import Stack
from tests.lifecycle.conftest import SimStand


def test_rollback_on_the_target_stand_and_audit_on_both(
    stands_project: Path, sim_stand: SimStand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_USER", "carol")
    project = Project.load(stands_project)
    first = project.train()
    assert project.promote("int").to_version == "1"
    second = project.train()  # dev: v2
    moved = project.promote("int")
    assert (moved.from_version, moved.to_version) == ("1", "2")

    back = project.rollback("int", reason="v2 misbehaves on int")
    assert (back.from_version, back.to_version, back.stand) == ("2", "1", "sim")
    target = Project.load(stands_project, env="sim")
    sim_model = target.client.get_registered_model(project.name)
    assert sim_model.aliases == {"int": 1}
    assert json.loads(sim_model.tags[tags.stage_history("int")]) == ["1"]
    assert project.client.get_registered_model(project.name).aliases == {"dev": 2}  # source untouched

    # each stand's audit log tells its side: the source what it copied, the target what moved
    source_events = project.audit()
    assert [(e["action"], e["stage"], e["to_version"]) for e in source_events] == [
        ("train", "dev", first.version), ("copy", "int", first.version),
        ("train", "dev", second.version), ("copy", "int", second.version),
    ]
    assert source_events[1]["copy"]["to_env"] == "sim" and source_events[1]["copy"]["to_version"] == "1"
    target_events = target.audit()
    assert [(e["action"], e["stage"], e["from_version"], e["to_version"]) for e in target_events] == [
        ("promote", "int", None, "1"), ("promote", "int", "1", "2"), ("rollback", "int", "2", "1"),
    ]
    assert target_events[0]["environment"] == "sim" and target_events[0]["who"] == "carol"
    assert target_events[1]["copy"]["from_version"] == second.version

    # prod lives on sim too: an alias move there; the next gate scores the champion on sim
    project.promote("prod")
    third = project.train()
    assert third.champion is not None and third.champion.version == "1"
    assert third.champion.error is None and third.champion.metrics["roc_auc"] > 0.8


def test_a_plain_stage_name_is_the_current_stand(project_dir: Path) -> None:
    project = Project.load(project_dir)
    stands = project.stands
    assert stands.of_stage("staging") is stands.current
    assert stands.env_of("staging") is None


def test_a_stage_mapped_to_the_environment_a_command_runs_on_is_that_stand(
    project_dir: Path, edit_config
) -> None:
    edit_config(project_dir, "stages: [dev, staging, prod]", "stages: [{name: dev, env: dev}, staging, prod]")
    project = Project.load(project_dir, env="dev")
    assert project.stands.of_stage("dev") is project.stands.current


def test_an_unreachable_stand_is_named_with_its_stage(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    stack = Stack("sqlite:///x.db", "sqlite:///x.db", store.root)

    def unreachable(env: str) -> Stand:
        raise StoreUnreachableError("tracking store postgresql://db:5432/mlflow is unreachable: refused")

    current = Stand(None, stack, Registry(None), AuditLog(store), move_lock(stack))  # type: ignore[arg-type]
    stands = Stands(current, {"int": "sim"}, unreachable)
    with pytest.raises(StoreUnreachableError) as caught:
        stands.of_stage("int")
    assert caught.value.message.startswith("stand 'sim' (stage 'int') cannot be reached: tracking store")
    assert "nothing was written to that stand" in (caught.value.hint or "")


def test_auto_promote_carries_the_version_across_stands(stands_project: Path, sim_stand: SimStand) -> None:
    from conveyor.lifecycle.retraining import RetrainRequest, retrain

    project = Project.load(stands_project)
    project.train()  # v1 here; the retrained v2 becomes sim's v1
    request = RetrainRequest(project.name, "monitoring-run", "drift in tenure_months", auto_promote=True)
    outcome = retrain(project.lifecycle, request)
    assert outcome.ok and outcome.promoted == ["int", "prod"], outcome.detail
    target = Project.load(stands_project, env="sim")
    assert target.client.get_registered_model(project.name).aliases == {"int": 1, "prod": 1}
    lineage = json.loads(target.client.get_model_version(project.name, "1").tags[tags.LINEAGE_SOURCE])
    assert lineage["version"] == outcome.version == "2"
