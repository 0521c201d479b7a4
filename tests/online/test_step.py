"""One mini-batch at a time through guards → predict → validate → learn, on the synthetic
stream with a concept drift half-way: the online learner recovers where a frozen model stays
down; a poisoning source (flipped labels, extreme values) is held to its share and its
extremes are filtered, so the holdout accuracy stays within tolerance; late labels join by
event id; events without a usable label go to the dead letters with their reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from conveyor.core.config.schema import ProjectConfig
from conveyor.examples.drift_stream import DriftStream, drift_stream
from conveyor.online import Learner, LearnStep, make_learner
from conveyor.online.holdout import Holdout
from conveyor.online.run import make_step
from conveyor.streaming.brokers import Coordinates, Event
from tests.online.conftest import batches, config_dict, events_of

TOLERANCE = 0.05  # monitor.performance.tolerance, the project's default


def step_for(online: dict[str, Any] | None = None) -> LearnStep:
    config = ProjectConfig(**config_dict({"rollback": {"tolerance": None}, **(online or {})}))
    learner = make_learner(config, Path("."), [0, 1])
    return make_step(config, learner, [0, 1], Holdout(config.features.inputs, 0.0, 10))


def run(step: LearnStep, rows: list[dict[str, Any]], start: int = 0, keys: list[str] | None = None) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for chunk in batches(events_of(rows, start=start, keys=keys)):
        out = step.process(chunk, 0.0)
        for reason, count in out.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    return reasons


def accuracy(learner: Learner, data: DriftStream, start: int, stop: int) -> float:
    X = {k: v[start:stop] for k, v in data.X.items()}
    return float(np.mean(learner.predict(X) == data.y[start:stop]))


@pytest.mark.parametrize("update", ["minibatch", "per_row"])
def test_after_a_drift_the_online_learner_recovers_and_a_frozen_one_stays_down(stream: DriftStream, update: str) -> None:
    step = step_for({"update": update})
    drift = stream.drift_at
    run(step, stream.rows(0, drift))
    before = step.parts.prequential.accuracy
    frozen = Learner.from_bytes(step.parts.learner.to_bytes())
    errors = []
    for chunk in batches(events_of(stream.rows(drift), start=drift)):
        errors.append(step.process(chunk, 0.0).errors)
    after = 1.0 - np.concatenate(errors)
    assert before is not None and before > 0.88
    late = slice(5000, None)  # after the first 5k events of the new concept
    assert after[late].mean() > 0.88  # prequential: predicted before learned, event by event
    assert accuracy(frozen, stream, drift + 5000, len(stream)) < 0.35
    assert after[:5000].mean() > accuracy(frozen, stream, drift, drift + 5000) + 0.3


def _poisoned(data: DriftStream, stop: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[str]]:
    """The clean events from twenty honest sources, interleaved with as many from "mallory":
    flipped labels, and every tenth with an absurd price."""
    rng = np.random.default_rng(seed)
    rows, sources = [], []
    for i, row in enumerate(data.rows(0, stop)):
        honest = dict(row, source=f"s{rng.integers(20)}")
        bad = dict(row, source="mallory", event_id=f"m{i}", label=1 - row["label"])
        if i % 10 == 0:
            bad["price"] = 1e7
        rows += [honest, bad]
        sources += [honest["source"], "mallory"]
    return rows, sources


def test_a_poisoning_source_is_held_to_its_share_and_the_holdout_stays_within_tolerance() -> None:
    data = drift_stream(24_000, drift_at=24_000, seed=11)
    train, holdout = slice(0, 20_000), (20_000, 24_000)
    rows, _ = _poisoned(data, train.stop)
    clean = step_for()
    run(clean, data.rows(0, train.stop))
    clean_accuracy = accuracy(clean.parts.learner, data, *holdout)
    guarded = step_for({"guards": {"source_field": "source", "max_source_share": 0.05, "outlier_z": 6}})
    reasons = run(guarded, rows)
    naive = step_for({"guards": {"outlier_z": None}})
    run(naive, rows)
    guarded_accuracy = accuracy(guarded.parts.learner, data, *holdout)
    assert guarded_accuracy >= clean_accuracy - TOLERANCE
    assert accuracy(naive.parts.learner, data, *holdout) < clean_accuracy - 0.2  # the guards did it
    assert reasons["source_share"] > 15_000 and reasons["outlier"] > 100
    assert set(guarded.parts.guards.counts) == {"source_share", "outlier"}


def test_the_message_key_names_the_source_when_no_field_does() -> None:
    data = drift_stream(2000, seed=2)
    step = step_for({"guards": {"max_source_share": 0.2, "outlier_z": None}})
    keys = ["big" if i % 2 else f"k{i % 10}" for i in range(2000)]
    reasons = run(step, data.rows(), keys=keys)
    assert reasons.get("source_share", 0) > 500


def test_late_labels_join_by_event_id_and_teach() -> None:
    data = drift_stream(3000, seed=4)
    step = step_for({"unlabelled": "wait", "label_wait_s": 60})
    rows = data.rows()
    unlabelled = [{k: v for k, v in row.items() if k != "label"} for row in rows[2000:]]
    run(step, rows[:2000])
    learned = step.parts.learner.n_seen_
    out = step.process(events_of(unlabelled, start=2000), 10.0)
    assert out.predicted == 1000 and out.learned == 0 and len(step.parts.pending) == 1000
    labels = [{"event_id": row["event_id"], "label": row["label"]} for row in rows[2000:2500]]
    labels.append({"event_id": "nobody", "label": 1})
    out = step.process(events_of(labels, start=9000), 20.0)
    assert out.learned == 500 and step.parts.learner.n_seen_ == learned + 500
    assert len(out.judged_ids) == 500 and step.parts.prequential.seen == 2500
    assert out.reasons == {"label_unmatched": 1}
    step.process([], 100.0)  # past label_wait_s: the rest stop waiting
    assert len(step.parts.pending) == 0 and step.parts.pending.timeouts == 500


def test_events_without_a_usable_label_are_dead_letters_with_their_reason() -> None:
    step = step_for({"unlabelled": "dead_letter"})
    row = drift_stream(1, seed=0).rows()[0]
    events = events_of([
        row, {k: v for k, v in row.items() if k != "label"}, dict(row, label=7), dict(row, price="cheap"),
    ]) + [Event(b"{oops", Coordinates("s", 0, "99"))]
    out = step.process(events, 0.0)
    letters = [orjson.loads(r.value) for r in out.dead_letters]
    assert sorted(d["reason"] for d in letters) == ["malformed_json", "no_label", "schema", "unknown_class"]
    assert out.learned == 1
    assert all(d["payload"] and d["source"]["source"] == "s" for d in letters)


@pytest.mark.parametrize("learner", ["naive_bayes", "passive_aggressive"])
def test_other_learners_run_behind_the_same_step(learner: str) -> None:
    data = drift_stream(6000, drift_at=6000, seed=9)
    step = step_for({"learner": learner})
    run(step, data.rows())
    assert step.parts.prequential.accuracy is not None and step.parts.prequential.accuracy > 0.75


@pytest.mark.parametrize("detector", ["adwin", "page_hinkley"])
def test_the_drift_is_detected_on_the_prequential_error_and_handed_to_the_listeners(
    stream: DriftStream, detector: str,
) -> None:
    from conveyor.online.drift import DriftEvent

    config = ProjectConfig(**config_dict({"rollback": {"tolerance": None}, "drift": {"detector": detector}}))
    heard: list[DriftEvent] = []
    step = make_step(config, make_learner(config, Path("."), [0, 1]), [0, 1],
                     Holdout(config.features.inputs, 0.0, 10), [heard.append])
    run(step, stream.rows())
    assert heard, "no detection"
    first = heard[0]
    assert first.signal == "prequential_error" and first.detector == detector
    assert stream.drift_at < first.events <= stream.drift_at + 3000  # soon after, never before
