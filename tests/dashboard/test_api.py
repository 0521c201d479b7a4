"""The dashboard's JSON endpoints, called directly on a served project (the dashboard at
/ui, as `conveyor serve` mounts it)."""

from __future__ import annotations

from tests.dashboard.conftest import MANY, wait_for
from tests.serving.conftest import RECORD

API = "/ui/api/models/churn"
ADMIN, DEPLOY, PREDICT = "admin-token", "deploy-token", "predict-token"


def test_versions_are_paged_newest_first_and_every_version_is_on_one_page(served):
    running = served()
    seen: list[int] = []
    with running.client() as http:
        first = http.get(f"{API}/versions", params={"limit": 50}).json()
        assert len(first["items"]) == 50 and first["next"]
        assert first["items"][0]["version"] == str(MANY + 2)
        token, pages = None, 0
        while True:
            page = http.get(f"{API}/versions", params={"limit": 200, **({"next": token} if token else {})}).json()
            seen += [int(v["version"]) for v in page["items"]]
            pages += 1
            token = page["next"]
            if token is None:
                break
    assert seen == list(range(MANY + 2, 0, -1))
    assert pages == -(-(MANY + 2) // 200) > 1  # more than the largest page holds


def test_a_version_shows_its_gate_checks_aliases_and_key_metrics(served):
    running = served()
    with running.client() as http:
        page = http.get(f"{API}/versions", params={"limit": 200, "next": None}).json()
        while page["next"]:
            page = http.get(f"{API}/versions", params={"limit": 200, "next": page["next"]}).json()
    v1 = next(v for v in page["items"] if v["version"] == "1")
    assert v1["gate"] == "passed" and v1["aliases"] == ["prod"]
    assert v1["checks"] and all(c["passed"] for c in v1["checks"])
    roc = next(c for c in v1["checks"] if c["check"] == "roc_auc")
    assert roc["metric"] == "roc_auc" and roc["threshold"].startswith((">=", ">"))
    assert roc["value"] == v1["metrics"]["roc_auc"] and roc["detail"].startswith("roc_auc = ")
    assert set(v1["metrics"]) >= {"roc_auc", "f1"}


def test_stages_say_which_version_holds_each_alias_since_when_and_why(served):
    running = served()
    with running.client() as http:
        stages = {s["stage"]: s for s in http.get(f"{API}/stages").json()["items"]}
    assert {s: stages[s]["version"] for s in stages} == {"dev": "2", "staging": "2", "prod": "1"}
    assert stages["staging"]["reason"] == "retrained on drift" and stages["staging"]["since"]
    assert stages["staging"]["previous"] == ["1"]
    assert all(s["stand"] == "default" for s in stages.values())


def test_the_alias_history_is_the_audit_log_newest_first(served):
    running = served()
    with running.client() as http:
        moves = http.get(f"{API}/history", params={"kind": "moves"}).json()["items"]
    assert [(m["action"], m["stage"], m["from_version"], m["to_version"]) for m in moves][:2] == [
        ("promote", "staging", "1", "2"), ("train", "dev", "1", "2")]  # train: the first stage
    assert moves[0]["reason"] == "retrained on drift" and moves[0]["who"]
    assert moves == sorted(moves, key=lambda m: m["at"], reverse=True)
    assert {m["action"] for m in moves} <= {"train", "promote", "rollback", "copy"}


def test_lineage_goes_from_the_drift_run_to_the_retrained_version_and_its_promotions(served):
    running = served()
    with running.client() as http:
        lineage = http.get(f"{API}/lineage").json()["items"]
        monitoring = http.get(f"{API}/monitoring").json()["items"]
    drift_run = next(r for r in monitoring if r["verdict"] == "drift")
    assert [item["version"] for item in lineage] == ["2"]
    assert lineage[0]["drift"]["run_id"] == drift_run["run_id"]
    assert {p["stage"] for p in lineage[0]["promotions"]} == {"dev", "staging"}
    assert drift_run["retrain_version"] == "2"


def test_monitoring_runs_carry_drift_per_feature_and_their_report(served):
    running = served()
    with running.client() as http:
        runs = http.get(f"{API}/monitoring").json()["items"]
        assert [r["verdict"] for r in runs] == ["drift", "no drift"]  # newest first
        drifted = runs[0]
        assert drifted["features"] and any(f["drifted"] for f in drifted["features"].values())
        assert all(isinstance(f["score"], float) for f in drifted["features"].values())
        assert "roc_auc" in drifted["performance"] or drifted["performance"] == {}
        report = http.get(drifted["report"])
        assert report.status_code == 200 and "<html" in report.text.lower()
        assert report.headers["content-security-policy"].startswith("default-src 'none'")
        assert http.get(f"/ui/models/churn/monitoring/{'0' * 32}/report").status_code == 404


def test_runs_show_the_scheduler_history_with_a_link_to_the_log(served):
    running = served()
    with running.client() as http:
        runs = http.get(f"{API}/runs").json()["items"]
        assert [(r["pipeline"], r["trigger"], r["status"]) for r in runs] == [("train", "schedule", "succeeded")]
        assert runs[0]["duration_s"] is not None and runs[0]["mlflow_url"] is None  # SQLite: no MLflow UI
        log = http.get(runs[0]["log_url"])
        assert log.status_code == 200 and log.text == "train: ok\n"


def test_runs_show_an_airflow_dag_runs_entry_beside_the_schedulers(served, monkeypatch):
    from conveyor.jobs import PromoteSpec

    running = served()
    for name, value in {"DAG_ID": "churn_train", "DAG_RUN_ID": "manual__2026-12-01", "TASK_ID": "promote_dev",
                        "TRY_NUMBER": "1"}.items():
        monkeypatch.setenv(f"AIRFLOW_CTX_{name}", value)
    assert running.project.run_job(PromoteSpec(to="prod", version="2", reason="airflow")).ok
    with running.client() as http:
        runs = http.get(f"{API}/runs").json()["items"]
        assert [(r["pipeline"], r["trigger"], r["status"]) for r in runs] == [
            ("train", "airflow", "succeeded"), ("train", "schedule", "succeeded")]
        log = http.get(runs[0]["log_url"]).text
    assert "churn_train/manual__2026-12-01" in log and "promote_dev (try 1): promote" in log


def test_the_endpoint_panel_counts_requests_per_deployment_from_the_servers_metrics(served):
    running = served()
    with running.client() as http:
        before = http.get(f"{API}/endpoint").json()
        weights = {d["deployment"]: d["weight"] for d in before["deployments"]}
        assert weights == {"dev": 0.0, "prod": 90.0, "staging": 10.0}  # every stage, weighted or not
        answered = http.post("/models/churn/invocations", json={"dataframe_records": [RECORD]})
        assert answered.status_code == 200
        which = answered.headers["x-conveyor-deployment"]
        after = http.get(f"{API}/endpoint").json()
    counts = {d["deployment"]: d["requests"] for d in after["deployments"]}
    assert counts[which] == 1 and sum(counts.values()) == 1
    assert after["canary"] is None and after["shadow"] is None


def test_bad_page_requests_are_refused_with_a_clear_422_and_unknown_models_404(served):
    running = served()
    with running.client() as http:
        too_many = http.get(f"{API}/versions", params={"limit": 100000})
        assert too_many.status_code == 422 and "limit" in too_many.json()["message"]
        assert http.get(f"{API}/history", params={"next": "x"}).status_code == 422
        assert http.get(f"{API}/history", params={"kind": "everything"}).status_code == 422
        missing = http.get("/ui/api/models/other/versions")
        assert missing.status_code == 404 and "churn" in missing.json()["hint"]


def test_actions_need_role_deploy_and_a_json_body(served):
    running = served()
    weights = {"weights": {"prod": 50, "staging": 50}}
    with running.client() as anonymous:
        assert anonymous.put(f"{API}/traffic", json=weights).status_code == 401
    with running.client(PREDICT) as http:
        refused = http.put(f"{API}/traffic", json=weights)
        assert refused.status_code == 403 and "deploy" in refused.json()["message"]
        assert http.post(f"{API}/rollback", json={"stage": "staging"}).status_code == 403
        assert http.post(f"{API}/canary", json={"to": "staging"}).status_code == 403
        assert http.get("/ui/api/session").json()["actions"] == []
    with running.client(DEPLOY) as http:
        form = http.put(f"{API}/traffic", content="weights=1", headers={"content-type": "text/plain"})
        assert form.status_code == 415
        assert http.get("/ui/api/session").json()["actions"] == ["traffic", "canary", "rollback"]
    with running.client("not-a-token") as http:
        assert http.get(f"{API}/versions").status_code == 401
    assert [e for e in running.project.audit() if e["action"] == "traffic"] == []


def test_a_weight_change_shows_in_the_admin_api_and_the_audit_log(served):
    running = served()
    with running.client(DEPLOY) as http:
        status = http.put(f"{API}/traffic", json={"weights": {"prod": 70, "staging": 30}})
        assert status.status_code == 200, status.text
        assert status.json()["weights"] == {"prod": 70.0, "staging": 30.0}
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 70.0, "staging": 30.0}
        bad = http.put(f"{API}/traffic", json={"weights": {"nowhere": 1}})
        assert bad.status_code == 422 and "unknown deployment" in bad.json()["message"]
        live = http.get(f"{API}/history", params={"kind": "live"}).json()["items"]
    event = next(e for e in running.project.audit() if e["action"] == "traffic")
    assert event["who"] == "token:release" and event["weights_after"] == {"prod": 70.0, "staging": 30.0}
    assert event["weights_before"] == {"prod": 90.0, "staging": 10.0}
    assert live[0]["action"] == "traffic" and live[0]["who"] == "token:release"


def test_a_rollback_moves_the_alias_back_and_is_audited_with_the_token(served, project_copy):
    running = served(project_copy())
    with running.client(ADMIN) as http:
        moved = http.post(f"{API}/rollback", json={"stage": "staging", "reason": "v2 misbehaves"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["from_version"], moved.json()["to_version"]) == ("2", "1")
        again = http.post(f"{API}/rollback", json={"stage": "staging"})
        assert again.status_code == 409 and "no previous holder" in again.json()["message"]
        assert http.post(f"{API}/rollback", json={"stage": "qa"}).status_code == 422
    assert running.project.registry.alias_holder("churn", "staging") == "1"
    event = next(e for e in reversed(running.project.audit()) if e["action"] == "rollback")
    assert event["who"] == "token:ops" and event["reason"] == "v2 misbehaves"


def test_a_canary_started_and_stopped_from_the_dashboard_restores_the_traffic(served):
    running = served()
    with running.client(DEPLOY) as http:
        started = http.post(f"{API}/canary", json={"to": "staging", "steps": "50", "interval": "1h"})
        assert started.status_code == 202, started.text
        wait_for(lambda: http.get("/admin/models/churn").json()["weights"] == {"prod": 50.0, "staging": 50.0})
        assert http.post(f"{API}/canary", json={"to": "staging"}).status_code == 409  # one at a time
        assert http.delete(f"{API}/canary", headers={"content-type": "application/json"}).status_code == 200
        wait_for(lambda: http.get(f"{API}/endpoint").json()["canary"]["state"] == "stopped")
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 90.0, "staging": 10.0}
        bad = http.post(f"{API}/canary", json={"to": "staging", "steps": "50,10"})
        assert bad.status_code == 422 and "rise" in bad.json()["message"]
    stop = next(e for e in running.project.audit() if e["action"] == "rollout-rollback")
    assert stop["reason"] == "stopped: by token:release"


def test_signing_in_keeps_the_token_in_a_cookie_for_the_pages(served):
    running = served()
    with running.client() as http:
        assert http.put("/ui/api/session", json={"token": "wrong"}).status_code == 401
        signed = http.put("/ui/api/session", json={"token": PREDICT})
        assert signed.status_code == 200 and signed.json()["name"] == "app"
        assert "httponly" in signed.headers["set-cookie"].lower()
        assert http.get("/ui/api/session").json()["name"] == "app"
        page = http.get("/ui/models/churn/endpoint")
        assert page.status_code == 200 and 'id="actions"' not in page.text
        http.put("/ui/api/session", json={"token": DEPLOY})
        assert 'id="actions"' in http.get("/ui/models/churn/endpoint").text
        http.delete("/ui/api/session")
        http.cookies.clear()
        assert http.get("/ui/api/session").json()["name"] is None


def test_the_json_endpoints_are_in_the_openapi_document(served):
    running = served()
    with running.client() as http:
        paths = http.get("/openapi.json").json()["paths"]
    ours = {p: ops for p, ops in paths.items() if p.startswith("/ui/api/")}
    assert {"/ui/api/models/{name}/versions", "/ui/api/models/{name}/endpoint", "/ui/api/models/{name}/traffic",
            "/ui/api/models/{name}/monitoring", "/ui/api/models/{name}/runs"} <= set(ours)
    assert all(op["tags"] == ["dashboard"] for ops in ours.values() for op in ops.values())
    assert not any(p.startswith("/ui/models") for p in paths)  # pages are not API


def test_conveyor_ui_alone_reads_the_server_and_passes_actions_on_to_its_admin_api(served, standalone):
    running = served()
    ui = standalone(running.url)
    with httpx_client(ui) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        endpoint = http.get(f"{API}/endpoint").json()
        assert {d["deployment"] for d in endpoint["deployments"]} == {"dev", "prod", "staging"}
        assert http.put(f"{API}/traffic", json={"weights": {"prod": 1}}).status_code == 401
    with httpx_client(ui, DEPLOY) as http:
        changed = http.put(f"{API}/traffic", json={"weights": {"prod": 60, "staging": 40}})
        assert changed.status_code == 200, changed.text
    with running.client(DEPLOY) as http:
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 60.0, "staging": 40.0}
    ui_alone = standalone("http://127.0.0.1:9")  # nothing listens there
    with httpx_client(ui_alone) as http:
        down = http.get(f"{API}/endpoint")
        assert down.status_code == 502 and "conveyor serve" in down.json()["hint"]
        assert http.get(f"{API}/versions").status_code == 200  # the registry is still there


def test_a_dashboard_where_predictions_need_a_token_shows_nothing_without_one(served, project_copy):
    import yaml

    folder = project_copy()
    config = folder / "conveyor.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["serve"]["auth"]["predict"] = True
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    running = served(folder)
    with running.client() as http:
        assert http.get(f"{API}/versions").status_code == 401
        page = http.get("/ui/models/churn")
        assert page.status_code == 401 and "sign-in" in page.text
    with running.client(PREDICT) as http:
        assert http.get(f"{API}/versions", params={"limit": 1}).status_code == 200


def httpx_client(url: str, token: str | None = None):
    import httpx

    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=60)
