"""The dashboard in a real browser: Playwright driving the system's Chromium, headless (one
browser for the session). Every page loads with no console error and no request leaving
the server; a weight change made through the page shows in the admin API and the audit log;
a predict-role token sees no action. Screenshots go to pytest's temporary folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.dashboard.conftest import MANY, wait_for

CHROMIUM = "/usr/bin/chromium"
PAGES = ["", "/endpoint", "/monitoring", "/runs"]

if not os.path.exists(CHROMIUM):  # .ci/run installs it (apt-get install chromium)
    pytest.skip(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser for this module. Not for the session: Playwright's sync API keeps an event
    loop running in the main thread until it stops, and every later test's asyncio.run()
    then fails ("cannot be called from a running event loop")."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


class Watched:
    """A page with its console errors, uncaught errors and every request it made."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('[data-panel]')].every(p => p.dataset.loaded)")

    def sign_in(self, base: str, token: str) -> None:
        self.page.goto(f"{base}/ui/login")
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{base}/ui/models/churn")

    def left_the_server(self, base: str) -> list[str]:
        host = urlparse(base).netloc
        return [u for u in self.requests if not u.startswith(("data:", "about:")) and urlparse(u).netloc != host]


def test_every_page_loads_with_no_console_error_and_no_request_leaving_the_server(served, browser, screenshots):
    running = served()
    watched = Watched(browser)
    for page in PAGES:
        watched.open(f"{running.url}/ui/models/churn{page}")
        failed = watched.page.locator("[data-loaded=error]").count()
        assert failed == 0, watched.page.content()
        watched.page.screenshot(path=str(screenshots / f"anonymous{page.replace('/', '-') or '-models'}.png"),
                                full_page=True)
    watched.page.goto(f"{running.url}/ui/login")
    assert watched.errors == []
    assert watched.left_the_server(running.url) == []
    assert watched.page.locator("#actions").count() == 0  # anonymous: no actions
    watched.open(f"{running.url}/ui/models/churn/monitoring")
    assert watched.page.locator("#drift-chart svg circle").count() >= 2  # two runs per feature
    assert watched.page.locator("#alerts tbody tr").count() == 1
    watched.open(f"{running.url}/ui/models/churn")
    rows = watched.page.locator("[data-panel=versions] .body > table > tbody > tr")
    assert rows.count() == 25
    more = watched.page.locator("[data-panel=versions] .more")
    while more.is_visible():  # page after page down to v1: 25 more rows each time
        shown = rows.count()
        more.click()
        wait_for(lambda shown=shown: rows.count() > shown)
    assert rows.count() == MANY + 2
    checks = rows.last.locator("table.checks tbody tr")  # v1's gate checks: metric, threshold, value
    assert checks.count() >= 2
    cells = checks.filter(has_text="roc_auc").first.locator("td").all_inner_texts()
    assert cells[0] == "✓" and cells[2].startswith(">") and float(cells[3]) > 0.5
    assert watched.errors == []
    watched.context.close()


def test_a_weight_change_through_the_page_shows_in_the_api_and_the_audit_log(served, browser, screenshots):
    running = served()
    watched = Watched(browser)
    watched.sign_in(running.url, "deploy-token")
    watched.open(f"{running.url}/ui/models/churn/endpoint")
    watched.page.wait_for_selector("#weight-prod")
    watched.page.fill("#weight-prod", "40")
    watched.page.fill("#weight-staging", "60")
    asked: list[str] = []
    watched.page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    watched.page.click("#apply-weights")
    watched.page.wait_for_function(
        "() => document.getElementById('action-result').textContent.startsWith('traffic set')")
    assert asked == ["Set traffic dev=0 prod=40 staging=60?"]  # every deployment the page shows
    wanted = {"dev": 0.0, "prod": 40.0, "staging": 60.0}
    with running.client("deploy-token") as http:
        assert http.get("/admin/models/churn").json()["weights"] == wanted
    event = next(e for e in running.project.audit() if e["action"] == "traffic")
    assert event["who"] == "token:release" and event["weights_after"] == wanted
    watched.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-panel=live] td')].some(td => td.textContent === 'token:release')")
    watched.page.screenshot(path=str(screenshots / "deploy-endpoint.png"), full_page=True)
    assert watched.errors == [] and watched.left_the_server(running.url) == []
    watched.context.close()


def test_a_cancelled_confirmation_changes_nothing(served, browser):
    running = served()
    watched = Watched(browser)
    watched.sign_in(running.url, "deploy-token")
    watched.open(f"{running.url}/ui/models/churn/endpoint")
    watched.page.wait_for_selector("#weight-prod")
    watched.page.fill("#weight-prod", "1")
    watched.page.once("dialog", lambda dialog: dialog.dismiss())
    watched.page.click("#apply-weights")
    watched.page.wait_for_function("() => document.getElementById('action-result').textContent === 'cancelled'")
    with running.client("deploy-token") as http:
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 90.0, "staging": 10.0}
    watched.context.close()


def test_a_predict_role_token_sees_no_actions(served, browser, screenshots):
    running = served()
    watched = Watched(browser)
    watched.sign_in(running.url, "predict-token")
    for page in PAGES:
        watched.open(f"{running.url}/ui/models/churn{page}")
        assert watched.page.locator("#actions, #traffic-form, #canary-form, #rollback-form").count() == 0
        assert watched.page.get_by_role("button", name="Apply weights").count() == 0
    assert "app (predict)" in watched.page.locator("#who").inner_text()
    watched.page.screenshot(path=str(screenshots / "predict-runs.png"), full_page=True)
    assert watched.errors == []
    watched.context.close()


def test_an_interrupted_canary_is_resumed_from_the_page_and_stopped(served, browser, screenshots):
    import socket

    running = served()
    running.project.artifacts.replace_json("serving/churn/canary.json", {  # as a process killed mid-rollout left it
        "state": "running", "candidate": "staging", "steps": [50.0, 100.0], "interval_s": 3600.0,
        "started_by": "token:release", "started": "2026-12-01T00:00:00+00:00", "stop_requested_by": None,
        "owner": {"host": socket.gethostname(), "pid": 2**22 + 7, "started": ""}, "reason": "", "result": None,
        "weights_before": {"prod": 90.0, "staging": 10.0}})
    watched = Watched(browser)
    watched.sign_in(running.url, "deploy-token")
    watched.open(f"{running.url}/ui/models/churn/endpoint")
    assert "interrupted" in watched.page.locator("p.canary").inner_text()
    watched.page.once("dialog", lambda dialog: dialog.accept())
    watched.page.click("#canary-resume")
    watched.page.wait_for_function(
        "() => document.getElementById('action-result').textContent.startsWith('resumed at 50%')")
    with running.client("deploy-token") as http:
        wait_for(lambda: http.get("/admin/models/churn").json()["weights"] == {"prod": 50.0, "staging": 50.0})
        watched.page.screenshot(path=str(screenshots / "deploy-canary-resumed.png"), full_page=True)
        watched.page.once("dialog", lambda dialog: dialog.accept())
        watched.page.click("#canary-stop")
        wait_for(lambda: http.get("/ui/api/models/churn/endpoint").json()["canary"]["state"] == "stopped")
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 90.0, "staging": 10.0}
    assert watched.errors == [] and watched.left_the_server(running.url) == []
    watched.context.close()
