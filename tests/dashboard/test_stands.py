"""The Models panels with a second stand: ``dev`` on the project's embedded SQLite stand,
``staging`` and ``prod`` on a stand ``sim`` with a SQLite store and an artifact folder of
its own. Every stand's stages, versions and alias history show; `conveyor ui` alone (no
server: the registry panels need none)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.dashboard.test_api import httpx_client

API = "/ui/api/models/churn"


@pytest.fixture
def two_stands(tmp_path: Path, example_template: Path, migrated_store: Path) -> Path:
    from conveyor.app import Project

    folder = tmp_path / "churn"
    shutil.copytree(example_template, folder)
    (folder / ".conveyor").mkdir(exist_ok=True)
    shutil.copy(migrated_store, folder / ".conveyor" / "mlflow.db")
    shutil.copy(migrated_store, tmp_path / "sim.db")
    config = folder / "conveyor.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["stages"] = ["dev", {"name": "staging", "env": "sim"}, {"name": "prod", "env": "sim"}]
    raw["environments"] = {"sim": {"tracking_uri": f"sqlite:///{tmp_path / 'sim.db'}",
                                   "artifact_store": str(tmp_path / "sim-artifacts")}}
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    project = Project.load(folder)
    project.train()
    project.promote("staging", reason="v1 to sim")  # a copy on sim: its v1
    project.promote("prod", reason="sim's v1 to prod")  # on sim alone
    project.train()  # dev: v2
    project.promote("staging", reason="v2 to sim")  # sim's v2
    return folder


def test_every_stand_shows_its_stages_versions_and_alias_history(two_stands: Path, standalone):
    ui = standalone("http://127.0.0.1:9", two_stands)  # nothing listens there: no server
    with httpx_client(ui) as http:
        overview = http.get(API).json()
        assert overview["stands"] == ["default", "sim"]
        stages = {s["stage"]: (s["stand"], s["version"]) for s in http.get(f"{API}/stages").json()["items"]}
        assert stages == {"dev": ("default", "2"), "staging": ("sim", "2"), "prod": ("sim", "1")}

        here = http.get(f"{API}/versions").json()
        assert here["stand"] == "default" and [(v["version"], v["aliases"]) for v in here["items"]] == [
            ("2", ["dev"]), ("1", [])]
        sim = http.get(f"{API}/versions", params={"stand": "sim"}).json()
        assert sim["stand"] == "sim" and [(v["version"], v["aliases"]) for v in sim["items"]] == [
            ("2", ["staging"]), ("1", ["prod"])]
        assert all(v["copied_from"] for v in sim["items"])
        assert any(c["metric"] == "roc_auc" and c["value"] for c in sim["items"][0]["checks"])  # the gate's table, copied

        moves = http.get(f"{API}/history", params={"stand": "sim"}).json()["items"]
        assert [(m["action"], m["stage"], m["to_version"], m["environment"]) for m in moves] == [
            ("promote", "staging", "2", "sim"), ("promote", "prod", "1", "sim"), ("promote", "staging", "1", "sim")]
        source = http.get(f"{API}/history").json()["items"]
        assert [(m["action"], m["stage"]) for m in source] == [
            ("copy", "staging"), ("train", "dev"), ("copy", "staging"), ("train", "dev")]

        unknown = http.get(f"{API}/versions", params={"stand": "nowhere"})
        assert unknown.status_code == 422 and "sim" in unknown.json()["hint"]
        page = http.get("/ui/models/churn").text
    assert "Versions on default" in page and "Versions on sim" in page and "stand=sim" in page
