"""Concurrent promotions and rollbacks from separate processes, on SQLite and PostgreSQL.

Four worker processes run job specs (promote / rollback, the same `run_job` entry point as
`conveyor job run`) in 20 rounds. In each round every worker gets its spec, says it is
armed, and all four start on one release line from the test (a barrier, not a sleep).
Afterwards the alias holders, the history tags and the audit log must agree event by event.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from conveyor import Project
from conveyor.core import tags

ROUNDS = 20
WORKERS = 4
STAGES = ("staging", "prod")

WORKER = r"""
import json, sys
from conveyor.app import Project
from conveyor.jobs import parse_spec
project = Project.load(sys.argv[1], env=sys.argv[2] or None)
project.lifecycle  # connect before the first round
print("ready", flush=True)
for line in sys.stdin:
    spec = parse_spec(line)
    print("armed", flush=True)
    sys.stdin.readline()  # the release: every worker is armed
    print(json.dumps(project.run_job(spec).to_dict(), default=str), flush=True)
"""


class Workers:
    """WORKERS processes, each a loaded project waiting for specs on stdin."""

    def __init__(self, project: Path, env: str | None) -> None:
        variables = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
        self.processes = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(project), env or ""], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=variables, cwd=project)
            for _ in range(WORKERS)
        ]
        for process in self.processes:
            assert self._line(process) == "ready"

    def round(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for process, spec in zip(self.processes, specs, strict=True):
            self._send(process, json.dumps(spec))
        for process in self.processes:
            assert self._line(process) == "armed"
        for process in self.processes:
            self._send(process, "go")
        return [json.loads(self._line(process)) for process in self.processes]

    def close(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            assert process.wait(timeout=120) == 0

    @staticmethod
    def _send(process: subprocess.Popen[str], line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()

    @staticmethod
    def _line(process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, f"worker exited with {process.wait()}"
        return line.strip()


def round_specs(rng: random.Random, number: int, versions: list[str]) -> list[dict[str, Any]]:
    """One round's specs: every fifth round all four promote one version to prod (exactly one
    may change the alias); otherwise a mix of forced promotions, promotions along the stages
    and rollbacks of both stages."""
    if number % 5 == 0:
        version = rng.choice(versions)
        return [{"kind": "promote", "to": "prod", "version": version, "force": True,
                 "reason": f"round {number}"}] * WORKERS
    choices: list[dict[str, Any]] = []
    for _ in range(WORKERS):
        stage = rng.choice(STAGES)
        kind = rng.choice(("force", "force", "rollback", "next"))
        if kind == "force":
            choices.append({"kind": "promote", "to": stage, "version": rng.choice(versions), "force": True,
                            "reason": f"round {number}"})
        elif kind == "rollback":
            choices.append({"kind": "rollback", "stage": stage, "reason": f"round {number}"})
        else:
            choices.append({"kind": "promote", "to": "prod"})  # from the staging holder
    return choices


def four_versions(project_dir: Path, env: str | None) -> tuple[Project, MlflowClient, list[str]]:
    """v1 trained (gate passed, dev); v2–v4 the same model registered again with its verdict."""
    project = Project.load(project_dir, env=env)
    project.train()
    client = MlflowClient(project.stack.tracking_uri, registry_uri=project.stack.registry_uri)
    first = client.get_model_version("churn", "1")
    for _ in range(3):
        client.create_model_version("churn", first.source, first.run_id, tags={tag: first.tags[tag] for tag in (tags.GATE, tags.GATE_REASONS)})
    project.promote("staging")
    return project, client, ["1", "2", "3", "4"]


def replay(client: MlflowClient, project: Project, results: list[dict[str, Any]],
           before: dict[str, Any]) -> None:
    """The audit log, the tags and the aliases tell one story; each worker's answer is its part."""
    model = client.get_registered_model("churn")
    aliases = {alias: str(v) for alias, v in model.aliases.items()}
    events = project.audit()[before["events"]:]
    assert all(e["action"] in ("promote", "rollback") for e in events)

    changed = [r["result"] for r in results if r["ok"] and r["result"]["changed"]]
    unchanged = [r["result"] for r in results if r["ok"] and not r["result"]["changed"]]
    failed = [r for r in results if not r["ok"]]
    # one audit event per move that changed an alias, and the same moves
    assert Counter(_key(e) for e in events) == Counter(_key(m) for m in changed)
    assert all(m["from_version"] == m["to_version"] for m in unchanged)
    for failure in failed:  # losers that found nothing left to do, never a lock timeout
        assert failure["exit_code"] == 1
        assert "nothing to roll back" in failure["error"] or "no previous holder" in failure["error"], failure

    for stage in STAGES:
        holder = before["aliases"].get(stage)
        history = list(before["history"][stage])
        stage_events = [e for e in events if e["stage"] == stage]
        for event in stage_events:
            assert event["from_version"] == holder, (stage, event, holder)
            if event["action"] == "rollback":
                while history and history[-1] == holder:
                    history.pop()
                assert event["to_version"] == history[-1]
            else:
                if holder is not None and (not history or history[-1] != holder):
                    history.append(holder)
                history.append(event["to_version"])
            holder = event["to_version"]
        assert aliases.get(stage) == holder
        assert json.loads(model.tags.get(tags.stage_history(stage), "[]")) == history[-100:]
        if stage_events:
            last = json.loads(model.tags[tags.last_move(stage)])
            assert _key(last) == _key(stage_events[-1]) and last["at"] == stage_events[-1]["at"]
            record = json.loads(client.get_model_version("churn", holder).tags[tags.stage_move(stage)])
            assert record == last


def _key(move: dict[str, Any]) -> tuple[Any, ...]:
    return (move["action"], move["stage"], move["from_version"], move["to_version"])


def state(client: MlflowClient, project: Project) -> dict[str, Any]:
    model = client.get_registered_model("churn")
    return {
        "aliases": {alias: str(v) for alias, v in model.aliases.items()},
        "history": {s: json.loads(model.tags.get(tags.stage_history(s), "[]")) for s in STAGES},
        "events": len(project.audit()),
    }


def race(project_dir: Path, env: str | None = None) -> None:
    project, client, versions = four_versions(project_dir, env)
    before = state(client, project)
    rng = random.Random(12)
    workers = Workers(project_dir, env)
    results: list[dict[str, Any]] = []
    try:
        for number in range(ROUNDS):
            answers = workers.round(round_specs(rng, number, versions))
            if number % 5 == 0:  # all promote one version: at most one changes the alias
                assert sum(a["ok"] and a["result"]["changed"] for a in answers) <= 1, answers
            results.extend(answers)
    finally:
        workers.close()
    assert sum(r["ok"] and r["result"]["changed"] for r in results) >= ROUNDS  # the race really moved
    replay(client, project, results, before)


def test_concurrent_moves_on_sqlite(project_dir: Path) -> None:
    race(project_dir)


@pytest.fixture
def postgres_project(project_dir: Path, edit_config, postgres_uri: str) -> Iterator[Path]:
    edit_config(project_dir, "  dev: {}", f"  dev: {{tracking_uri: '{postgres_uri}'}}")
    yield project_dir


def test_concurrent_moves_on_postgres(postgres_project: Path) -> None:
    race(postgres_project, "dev")


def test_a_move_that_waits_past_the_lock_timeout_fails_clearly_and_changes_nothing(project_dir: Path) -> None:
    from conveyor.core.errors import MoveLockTimeout
    from conveyor.stack.locks import move_lock

    project = Project.load(project_dir)
    project.train()
    project.move_lock.timeout_s = 0.2
    other = move_lock(project.stack)  # another process's move, as far as the lock knows
    with other.hold("churn"), pytest.raises(MoveLockTimeout, match="held the lock for more than 0.2s"):
        project.promote("staging")
    assert project.registry.model_aliases("churn") == {"dev": "1"}
    assert [e["action"] for e in project.audit()] == ["train"]
    assert project.promote("staging").changed  # free again
