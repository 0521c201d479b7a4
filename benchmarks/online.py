"""Online learning speed and quality: conveyor's guarded learner vs River ``learn_one``.

Same synthetic stream for both (``conveyor.examples.drift_stream``): 200k labelled events,
four numeric features on different scales and two categorical ones, a concept drift
half-way. Each side runs in its own child process, on the same events, prequentially (every
event predicted before it is learned):
  river     River 0.26 ``StandardScaler`` (numeric) + ``OneHotEncoder`` (categorical) +
            ``LogisticRegression``: ``predict_proba_one`` then ``learn_one`` per event, on dicts
            made before the clock starts
  conveyor  the learner step of ``conveyor learn`` on the events as JSON bytes, mini-batches
            of 256: parse, schema and label checks, the poison filter (robust z-score),
            the source share cap (20 sources), predict, progressive validation, ADWIN on
            the prequential error, SGD behind the running scaler + one-hot encoder (the
            first batch by ``partial_fit``, then ``online.update: minibatch``, one gradient
            step per mini-batch)
  conveyor, guards off   the same with the poison filter and share cap off: the guards'
            cost per event is the difference
updates/s = events learned / seconds of the loop. Accuracy: whole stream, and the first 5k
events after the drift. Peak RSS of each child (ru_maxrss). The sides alternate over the
rounds; medians are reported. Then the whole command: ``conveyor learn --source
file://events.jsonl`` on the same 200k events (interpreter start, MLflow store, lease,
checkpoints every 50k events as registered versions, the gate), as a process.

    python benchmarks/online.py            # 200k events, 3 rounds
    python benchmarks/online.py --quick    # 20k events, 1 round
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

AFTER_DRIFT = 5000
SOURCES = 20


def _stream(n: int) -> Any:
    from conveyor.examples.drift_stream import drift_stream

    return drift_stream(n, seed=0)


def _scores(errors: np.ndarray, drift_at: int) -> dict[str, float]:
    return {"accuracy": float(1 - errors.mean()),
            "after_drift": float(1 - errors[drift_at:drift_at + AFTER_DRIFT].mean())}


def river_side(n: int) -> dict[str, Any]:
    from river import compose, linear_model, preprocessing

    from conveyor.examples.drift_stream import CATEGORICAL, NUMERIC

    data = _stream(n)
    rows = [{k: v for k, v in row.items() if k not in ("label", "event_id")} for row in data.rows()]
    labels = data.y.tolist()
    model = ((compose.Select(*NUMERIC) | preprocessing.StandardScaler())
             + (compose.Select(*CATEGORICAL) | preprocessing.OneHotEncoder())) | linear_model.LogisticRegression()
    errors = np.zeros(n)
    started = time.perf_counter()
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        proba = model.predict_proba_one(row)
        predicted = max(proba, key=proba.get) if proba else 0
        errors[i] = predicted != label
        model.learn_one(row, label)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "updates_per_s": n / seconds, **_scores(errors, data.drift_at)}


def conveyor_side(n: int, guards: bool) -> dict[str, Any]:
    from conveyor.core.config.schema import ProjectConfig
    from conveyor.examples.drift_stream import CATEGORICAL, NUMERIC
    from conveyor.online import make_learner
    from conveyor.online.holdout import Holdout
    from conveyor.online.run import make_step
    from conveyor.streaming.brokers import Coordinates, Event

    config = ProjectConfig(**_config(guards))
    learner = make_learner(config, Path("."), [0, 1])
    step = make_step(config, learner, [0, 1], Holdout(config.features.inputs, 0.0, 10))
    data = _stream(n)
    events = [Event(orjson.dumps({**row, "source": f"s{i % SOURCES}"}), Coordinates("bench", 0, str(i)))
              for i, row in enumerate(data.rows())]
    errors, learned, dead = [], 0, 0
    started = time.perf_counter()
    for start in range(0, n, 256):
        out = step.process(events[start:start + 256], 0.0)
        errors.append(out.errors)
        learned += out.learned
        dead += len(out.dead_letters)
    seconds = time.perf_counter() - started
    judged = np.concatenate(errors)
    assert len(judged) == n - dead, "every accepted event is judged once"
    del NUMERIC, CATEGORICAL
    return {"seconds": seconds, "updates_per_s": learned / seconds, "learned": learned, "dead_letters": dead,
            "rejected": dict(step.parts.guards.counts), **_scores(judged, data.drift_at)}


def _config(guards: bool, checkpoint_every: int | None = None) -> dict[str, Any]:
    from conveyor.examples.drift_stream import CATEGORICAL, NUMERIC, TARGET

    online: dict[str, Any] = {
        "classes": [0, 1], "rollback": {"tolerance": None}, "drift": {"detector": "adwin"},
        "guards": {"outlier_z": 6.0, "source_field": "source", "max_source_share": 0.2} if guards
        else {"outlier_z": None},
    }
    if checkpoint_every is not None:
        online["checkpoint"] = {"every_events": checkpoint_every, "every_s": None}
    return {"name": "bench-online", "task": "classification", "target": TARGET, "data": {"train": "unused.csv"},
            "features": {"numeric": list(NUMERIC), "categorical": list(CATEGORICAL)},
            "train": {"entrypoint": "train.py:train"}, "gate": {"metrics": {"accuracy": ">= 0.6"}, "champion": False},
            "online": online}


def _child(side: str, n: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--side", side, "--events", str(n)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _whole(n: int) -> dict[str, Any]:
    """`conveyor learn` as a process on a file of the same events."""
    import yaml

    folder = Path(tempfile.mkdtemp(prefix="conveyor-bench-online-"))
    (folder / "train.py").write_text("def train(X, y, params):\n    raise NotImplementedError\n")
    (folder / "conveyor.yaml").write_text(yaml.safe_dump(_config(True, checkpoint_every=max(n // 4, 1000))))
    events = folder / "events.jsonl"
    with events.open("wb") as handle:
        for i, row in enumerate(_stream(n).rows()):
            handle.write(orjson.dumps({**row, "source": f"s{i % SOURCES}"}) + b"\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "conveyor", "learn", "--source", f"file://{events}",
                           "--project", str(folder), "--json"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    return {"seconds": seconds, "events_per_s": n / seconds, "learned": summary["learned"],
            "checkpoints": len(summary["checkpoints"]), "gate": [c["gate"] for c in summary["checkpoints"]],
            "loop_updates_per_s": summary["updates_per_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--side", choices=["river", "conveyor", "conveyor-unguarded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.events or (20_000 if args.quick else 200_000)
    if args.side:
        result = river_side(n) if args.side == "river" else conveyor_side(n, args.side == "conveyor")
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    rounds = args.rounds or (1 if args.quick else 3)
    runs: dict[str, list[dict[str, Any]]] = {"river": [], "conveyor": [], "conveyor-unguarded": []}
    for index in range(rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for side in order:
            runs[side].append(_child(side, n))
            print(f"round {index + 1} {side}: {runs[side][-1]}", file=sys.stderr)
    failed = {side: r[0]["error"] for side, r in runs.items() if any("error" in x for x in r)}
    median = {side: _median(r) for side, r in runs.items() if side not in failed}
    whole = _whole(n)
    print(f"\nonline learning, {n:,} events (drift at {n // 2:,}), median of {rounds} round(s)")
    print(f"{'side':<22}{'updates/s':>12}{'accuracy':>10}{'after drift':>13}{'peak MB':>9}")
    for side, m in median.items():
        print(f"{side:<22}{m['updates_per_s']:>12,.0f}{m['accuracy']:>10.3f}{m['after_drift']:>13.3f}{m['peak_rss_mb']:>9.0f}")
    for side, error in failed.items():
        print(f"{side:<22} could not run: {error}")
    ratios: dict[str, float] = {}
    anchor, ours, bare = median.get("river"), median.get("conveyor"), median.get("conveyor-unguarded")
    if ours and bare:
        guard_us = (ours["seconds"] - bare["seconds"]) / n * 1e6
        print(f"guards' cost: {guard_us:.2f} µs per event ({ours['seconds']:.2f}s with, {bare['seconds']:.2f}s without)")
        ours["guards_us_per_event"] = guard_us
    if anchor and ours:
        ratios = {"updates": ours["updates_per_s"] / anchor["updates_per_s"],
                  "accuracy_points": 100 * (ours["accuracy"] - anchor["accuracy"]),
                  "after_drift_points": 100 * (ours["after_drift"] - anchor["after_drift"])}
        print(f"conveyor / River updates/s: {ratios['updates']:.1f}×; accuracy {ratios['accuracy_points']:+.1f} points, "
              f"after the drift {ratios['after_drift_points']:+.1f} points")
    if "error" in whole:
        print(f"whole command: could not run: {whole['error']}")
    else:
        print(f"whole command `conveyor learn --source file://…`: {whole['seconds']:.1f}s, {whole['events_per_s']:,.0f} "
              f"events/s end to end, {whole['checkpoints']} checkpoints ({', '.join(whole['gate'])})")
    print("RESULT " + json.dumps({"benchmark": "online", "size": {"events": n, "rounds": rounds, "quick": args.quick},
                                  "anchor": anchor, "conveyor": ours, "conveyor_unguarded": bare, "whole": whole,
                                  "failed": failed, "ratios": ratios}))


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(results[0])
    for key in ("seconds", "updates_per_s", "accuracy", "after_drift", "peak_rss_mb"):
        out[key] = statistics.median(float(r[key]) for r in results)
    return out


if __name__ == "__main__":
    main()
