"""`conveyor learn` end to end on real brokers and MLflow's own stores: checkpoints become
gated versions whose first stage the stream scorer follows (Kafka), a bad update is rolled back
automatically and audited (a file stream), a second learner is refused and a restarted one
resumes from its last checkpoint and offsets without learning an event twice (Redis)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from conveyor.app import Project
from conveyor.cli.app import app
from conveyor.core import tags
from conveyor.core.errors import LearnerBusyError, LearnerError, OptionError
from conveyor.examples.drift_stream import drift_stream
from conveyor.online import LearnOptions, run_learn
from conveyor.online.holdout import Holdout
from conveyor.online.lease import LearnerLease
from tests.online.conftest import produce, xadd_all

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def _version_tags(project: Project, version: str) -> dict[str, str]:
    return dict(project.client.get_model_version(project.name, version).tags)


def test_checkpoints_pass_the_gate_take_the_first_stage_and_the_stream_scorer_follows(
    make_project: Callable[..., Path], kafka: str, topics: Callable[..., str], tmp_path: Path,
) -> None:
    from conveyor.streaming import StreamOptions, run_stream

    folder = make_project({"checkpoint": {"every_events": 1024, "every_s": None, "holdout_share": 0.1,
                                          "holdout_size": 100}})
    data = drift_stream(2600, drift_at=2600, seed=5)
    source = topics("labelled")
    produce(kafka, source, [orjson.dumps(row) for row in data.rows()])
    project = Project.load(folder)
    summary = run_learn(project.lifecycle, LearnOptions(source=f"kafka://{kafka}/{source}", idle_exit_s=1.5))
    assert summary.events == 2600 and summary.dead_letters == 0
    first, second, last = summary.checkpoints  # two on the way (1024 events each), one at the end
    assert first["gate"] == "passed" and first["alias"] == "dev" and first["metrics"]["accuracy"] > 0.8
    assert second["previous"] == first["version"] and second["replaced"] == first["version"]
    assert last["events"] == 2600
    versions = {v.version: v for v in project.models()}
    assert versions[last["version"]].aliases == ["dev"] and versions[last["version"]].gate == "passed"
    recorded = _version_tags(project, second["version"])
    assert recorded[tags.ONLINE_PREVIOUS] == first["version"]  # lineage
    assert int(recorded[tags.ONLINE_EVENTS]) == second["events"]
    assert json.loads(recorded[tags.ONLINE_OFFSETS]) == {f"{source}:0": str(second["events"] - 1)}
    run = project.client.get_run(versions[last["version"]].run_id)
    assert run.data.tags[tags.PIPELINE] == "online" and "prequential.accuracy" in run.data.metrics
    audit = [e for e in project.audit() if e["action"] == "online"]
    assert [e["to_version"] for e in audit] == [c["version"] for c in summary.checkpoints]

    # the stream scorer scores with the version holding dev: the last checkpoint
    scored_in, scored_out = topics("features"), topics("scores")
    fresh = drift_stream(300, drift_at=300, seed=6).rows()
    produce(kafka, scored_in, [orjson.dumps({k: v for k, v in row.items() if k != "label"}) for row in fresh])
    streamed = run_stream(project.lifecycle, StreamOptions(
        model="drifty@dev", source=f"kafka://{kafka}/{scored_in}", sink=f"kafka://{kafka}/{scored_out}",
        idle_exit_s=1.5, max_wait_ms=20,
    ))
    assert streamed.scored == 300 and streamed.versions == {last["version"]: 300}

    # MLflow's own pyfunc loader opens a checkpoint too
    import mlflow.artifacts
    import mlflow.pyfunc
    import pandas as pd

    local = mlflow.artifacts.download_artifacts(
        artifact_uri=project.client.get_model_version_download_uri(project.name, last["version"]),
        dst_path=str(tmp_path / "pyfunc"), tracking_uri=project.client.tracking_uri)
    frame = pd.DataFrame(fresh).drop(columns=["label", "event_id"])
    predicted = mlflow.pyfunc.load_model(local).predict(frame)
    assert (predicted == pd.DataFrame(fresh)["label"]).mean() > 0.8


def test_a_bad_update_is_rolled_back_automatically_and_audited(make_project: Callable[..., Path], tmp_path: Path) -> None:
    folder = make_project({
        "params": {"learning_rate": "constant", "eta0": 0.05},
        "guards": {"outlier_z": None},
        "checkpoint": {"every_events": 3072, "every_s": None, "holdout_share": 0.1, "holdout_size": 100},
        "gate": {"max_drop": None},
        "rollback": {"tolerance": 0.05, "min_events": 400},
    })
    data = drift_stream(12_000, drift_at=12_000, seed=8)
    rows = data.rows()
    # a source gone bad for the second checkpoint's events (12 batches of 256: a checkpoint
    # falls on each boundary; the rows of a batch are learned in their order)
    flipped = [dict(row, label=1 - row["label"]) for row in rows[3072:6144]]
    path = _jsonl(tmp_path / "events.jsonl", rows[:3072] + flipped + rows[6144:9216])
    project = Project.load(folder)
    summary = run_learn(project.lifecycle, LearnOptions(source=f"file://{path}",
                                                        dead_letters=f"file://{tmp_path / 'dead.jsonl'}"))
    good, bad = summary.checkpoints[0], summary.checkpoints[1]
    assert good["alias"] == "dev" and bad["alias"] == "dev"  # the poisoned holdout let it through
    (rollback,) = summary.rollbacks
    assert rollback["from"] == bad["version"] and rollback["to"] == good["version"]
    assert "live accuracy" in rollback["reason"] and rollback["events"] < 6144 + 1500
    moves = [e for e in project.audit() if e["action"] == "rollback"]
    assert moves and moves[-1]["to_version"] == good["version"] and moves[-1]["reason"].startswith("online: live")
    holder = project.registry.alias_holder(project.name, "dev")
    later = [c for c in summary.checkpoints[2:] if c["alias"] == "dev"]
    assert holder == (later[-1]["version"] if later else good["version"])
    # learning went on from the state the stage went back to: the clean stream is learned well
    assert summary.checkpoints[-1]["metrics"]["accuracy"] > 0.8


def test_a_second_learner_is_refused_and_a_restarted_one_resumes_from_its_checkpoint(
    make_project: Callable[..., Path], redis_prefix: str,
) -> None:
    folder = make_project({"checkpoint": {"every_events": 1000, "every_s": None, "holdout_share": 0.05}})
    data = drift_stream(3000, drift_at=3000, seed=12)
    stream = f"{redis_prefix}-labelled"
    xadd_all(stream, [orjson.dumps(row) for row in data.rows()])
    project = Project.load(folder)
    options = LearnOptions(source=f"redis://127.0.0.1:6379/{stream}", idle_exit_s=1.5)

    held = LearnerLease(project.lifecycle.stack.artifact_store, project.name, 60)
    held.acquire()
    try:
        with pytest.raises(LearnerBusyError, match="another learner of 'drifty' is running"):
            run_learn(project.lifecycle, options)
        refused = CliRunner().invoke(app, ["learn", "--source", options.source or "", "--project", str(folder)])
        assert refused.exit_code == 9 and "another learner of 'drifty' is running" in refused.output
    finally:
        held.release()

    crashed = run_learn(project.lifecycle, LearnOptions(**{**options.__dict__, "checkpoint_on_stop": False}))
    assert crashed.events == 3000 and [c["events"] for c in crashed.checkpoints] == [1024, 2048]
    resumed = run_learn(project.lifecycle, options)
    assert resumed.resumed_from == crashed.checkpoints[-1]["version"]
    assert resumed.events == 3000 - 2048  # read again: what the crash had not checkpointed
    final = resumed.checkpoints[-1]
    assert final["events"] == 3000 and final["previous"] == crashed.checkpoints[-1]["version"]
    learned = int(_version_tags(project, final["version"])[tags.ONLINE_LEARNED])
    ids = [row["event_id"] for row in data.rows()]
    held_out = int(Holdout(project.lifecycle.config.features.inputs, 0.05, 10).chosen(ids).sum())
    assert 0 < held_out < 300
    assert learned == 3000 - held_out  # every event learned once into the surviving lineage


def test_a_learner_entrypoint_that_breaks_the_contract_is_refused_at_start(
    make_project: Callable[..., Path], tmp_path: Path,
) -> None:
    folder = make_project({"learner": "learn.py:make"}, files={"learn.py": "def make(params):\n    return {'a': 1}\n"})
    path = _jsonl(tmp_path / "events.jsonl", drift_stream(10, seed=0).rows())
    with pytest.raises(LearnerError, match="returned a builtins.dict, which lacks learn, predict"):
        run_learn(Project.load(folder).lifecycle, LearnOptions(source=f"file://{path}"))
    result = CliRunner().invoke(app, ["learn", "--source", f"file://{path}", "--project", str(folder)])
    assert result.exit_code == 1 and "lacks learn" in result.output


def test_the_command_needs_a_source_and_names_the_model(make_project: Callable[..., Path]) -> None:
    folder = make_project()
    with pytest.raises(OptionError, match="needs a source"):
        run_learn(Project.load(folder).lifecycle, LearnOptions())
    result = CliRunner().invoke(app, ["learn", "other", "--source", "file://x.jsonl", "--project", str(folder)])
    assert result.exit_code == 2 and "not 'other'" in result.output


def test_the_learn_job_runs_from_its_spec(make_project: Callable[..., Path], tmp_path: Path) -> None:
    from conveyor.jobs import parse_spec, run_job
    from conveyor.lifecycle.progress import SilentReporter

    folder = make_project()
    path = _jsonl(tmp_path / "events.jsonl", drift_stream(1000, seed=0).rows())
    spec = parse_spec(orjson.dumps({"kind": "learn", "project": str(folder), "source": f"file://{path}"}))
    result = run_job(spec, Project.load(folder).lifecycle, SilentReporter())
    assert result.ok and result.result["events"] == 1000 and len(result.result["checkpoints"]) == 1


def test_a_drift_detection_reaches_the_hook_the_artifact_store_and_the_learner_run(
    make_project: Callable[..., Path], tmp_path: Path,
) -> None:
    heard = tmp_path / "heard.jsonl"
    hook = f"import json\ndef on_drift(event):\n    open({str(heard)!r}, 'a').write(json.dumps(event) + '\\n')\n"
    folder = make_project({"drift": {"detector": "adwin", "min_updates": 10, "hook": "hooks.py:on_drift"},
                           "max_batch": 64, "checkpoint": {"every_events": None, "every_s": None}},
                          files={"hooks.py": hook})
    path = _jsonl(tmp_path / "events.jsonl", drift_stream(8000, drift_at=4000, seed=3).rows())
    project = Project.load(folder)
    summary = run_learn(project.lifecycle, LearnOptions(source=f"file://{path}", max_batch=64))
    assert summary.drifts and summary.drifts[0]["signal"] == "prequential_error"
    assert 4000 < summary.drifts[0]["events"] < 5500
    called = [json.loads(line) for line in heard.read_text().splitlines()]
    assert called[0]["detector"] == "adwin" and called[0]["events"] == summary.drifts[0]["events"]
    stored = project.artifacts.read_json_under("online/drifty/drift")
    assert [e["events"] for e in stored] == [d["events"] for d in summary.drifts]
    (run,) = project.client.search_runs([project.client.get_experiment_by_name("drifty").experiment_id],
                                        f"tags.`{tags.PIPELINE}` = 'learn'")
    history = project.client.get_metric_history(run.info.run_id, "drift.prequential_error")
    assert [m.step for m in history] == [d["events"] for d in summary.drifts]


def test_auto_promote_moves_a_passing_checkpoint_through_every_stage_audited(
    make_project: Callable[..., Path], tmp_path: Path,
) -> None:
    folder = make_project({"auto_promote": True, "checkpoint": {"every_events": 1024, "every_s": None}})
    path = _jsonl(tmp_path / "events.jsonl", drift_stream(2048, drift_at=2048, seed=2).rows())
    project = Project.load(folder)
    summary = run_learn(project.lifecycle, LearnOptions(source=f"file://{path}"))
    first, second = summary.checkpoints
    assert first["gate"] == second["gate"] == "passed"
    assert first["promoted"] == second["promoted"] == ["staging", "prod"] and second["refused"] is None
    assert {stage: project.registry.alias_holder(project.name, stage) for stage in ("dev", "staging", "prod")} == \
        dict.fromkeys(("dev", "staging", "prod"), second["version"])
    moves = [(e["stage"], e["to_version"]) for e in project.audit() if e["action"] == "online"]
    assert moves == [(stage, c["version"]) for c in (first, second) for stage in ("dev", "staging", "prod")]
    assert all(e["reason"].startswith("auto_promote: checkpoint at") for e in project.audit()
               if e["action"] == "online" and e["stage"] != "dev")
