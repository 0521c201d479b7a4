"""Drift detection speed and memory: conveyor (profile + compare) vs Evidently's DataDriftPreset.

Same data for both: 1M reference rows and 1M current rows, 20 numeric + 5 categorical columns,
some clearly shifted, the rest drawn from the same distribution. Each side runs in its own
child process (wall time of the drift computation, peak RSS of the whole child via wait4).
conveyor's timed path is the public streaming API a batch job uses — ``fit_parquet``
on the reference file, ``profile_parquet`` of both files (reading included: one column, one
record batch at a time) and ``compare``; Evidently needs both frames in memory, so they are
read before its clock starts (its reading time is not counted, its memory is).
Evidently 0.7 needs pandas < 3, so it gets its own venv, created on first use under
~/.cache/conveyor-bench/evidently. conveyor runs its Evidently-compatible preset
(``--method evidently``) so per-feature verdicts can be compared one to one.

    python benchmarks/drift.py [--quick] [--rounds N] [--rows N]
    python benchmarks/drift.py --whole [--quick] [--rounds N] [--rows N]

Whole commands (``--whole``): what a user waits for, from starting the process to its exit,
on the churn example (trained and promoted once, cached under the temporary folder):
1M new rows (shifted: ``generate_data.py --drift 1``) checked against the training data.
  evidently  ``python -c``: import Evidently, read the training data and the new rows,
             DataDriftPreset over the model's features and the target, save the HTML report
  conveyor   ``conveyor monitor churn --data new.parquet --method evidently --report …
             --json``: connect to the store, load the version's baseline profile and plan,
             stream the file (profile, score for prediction drift and performance), drift,
             performance, fairness, log the monitoring run, write the HTML report
conveyor does more (it scores the rows, judges performance and fairness and logs a run);
Evidently needs the reference rows, conveyor its profile. Per-feature verdicts are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROWS = 1_000_000
QUICK_ROWS = 100_000
NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
# Clearly shifted: mean shifts, a variance change, a re-weighted and a new category.
SHIFTED = {"n0", "n1", "n2", "n3", "n4", "c0", "c1"}
EVIDENTLY_VENV = Path.home() / ".cache" / "conveyor-bench" / "evidently"
EVIDENTLY_SPEC = ["evidently>=0.7,<0.8", "pandas<3", "pyarrow"]
TARGETS = {"speedup": 50.0, "memory": 0.25}


def generate(rows: int, folder: Path) -> None:
    import numpy as np
    import pandas as pd

    for name, seed, drifted in (("reference", 1, False), ("current", 2, True)):
        rng = np.random.default_rng(seed)
        data: dict[str, Any] = {}
        for i, column in enumerate(NUMERIC):
            scale = 1.0 + i % 4
            values = rng.normal(10.0 * (i % 3), scale, rows) if i % 2 == 0 else rng.gamma(2.0 + i % 3, scale, rows)
            if drifted and column in ("n0", "n1", "n2", "n3"):
                values = values + 0.5 * scale * (2.0 if i % 2 else 1.0)
            if drifted and column == "n4":
                values = values.mean() + (values - values.mean()) * 1.6
            data[column] = values
        for i, column in enumerate(CATEGORICAL):
            levels = [f"{column}_{k}" for k in range(4 + 3 * i)]
            p = np.linspace(1.0, 2.0, len(levels))
            if drifted and column == "c0":
                p = p[::-1] ** 3
            chosen = rng.choice(levels, rows, p=p / p.sum()).astype(object)
            if drifted and column == "c1":
                chosen[rng.random(rows) < 0.15] = "brand_new"
            data[column] = chosen
        pd.DataFrame(data).to_parquet(folder / f"{name}.parquet")


CONVEYOR_CHILD = r'''
import json, sys, time
import pandas, pyarrow.parquet  # imported before the clock, as Evidently's modules are
import scipy.spatial.distance, scipy.special, scipy.stats
from conveyor.monitoring.drift import DriftSettings, compare
from conveyor.profiles import Profiler, fit_parquet, profile_parquet
folder, numeric, categorical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
reference, current_file = f"{folder}/reference.parquet", f"{folder}/current.parquet"
started = time.perf_counter()  # reading the files is on conveyor's clock (streamed by batches)
profiler = fit_parquet(Profiler(numeric, categorical), reference)
baseline = profile_parquet(profiler, reference, sample=1000)
current = profile_parquet(profiler, current_file)
result = compare(baseline, current, DriftSettings(method="evidently"))
elapsed = time.perf_counter() - started
default = compare(baseline, current, DriftSettings(method="default"))
print(json.dumps({"seconds": elapsed,
                  "verdicts": {f.column: bool(f.drifted) for f in result.features},
                  "scores": {f.column: f.score for f in result.features},
                  "default_verdicts": {f.column: bool(f.drifted) for f in default.features}}))
'''

EVIDENTLY_CHILD = r'''
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
folder, numeric, categorical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ref = pd.read_parquet(f"{folder}/reference.parquet")
cur = pd.read_parquet(f"{folder}/current.parquet")
started = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
metrics = snapshot.dict()["metrics"]
elapsed = time.perf_counter() - started
verdicts, scores = {}, {}
for metric in metrics:
    config = metric.get("config", {})
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    value, threshold = float(metric["value"]), float(config["threshold"])
    is_p = "p_value" in config.get("method", "")
    verdicts[config["column"]] = (value < threshold) if is_p else (value >= threshold)
    scores[config["column"]] = value
print(json.dumps({"seconds": elapsed, "verdicts": verdicts, "scores": scores}))
'''


def ensure_evidently() -> tuple[Path | None, str]:
    python = EVIDENTLY_VENV / "bin" / "python"
    probe = [str(python), "-c", "import evidently, pandas; print(evidently.__version__)"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0:
            return python, found.stdout.strip()
    try:
        EVIDENTLY_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *EVIDENTLY_SPEC], check=True)
        found = subprocess.run(probe, capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        return None, f"could not install Evidently: {exc}"
    return python, found.stdout.strip()


def generate_in_child(rows: int, folder: Path) -> None:
    """Generate the data in a process of its own: the frames must never sit in this one,
    because a spawned child's peak RSS (wait4) starts from the parent's high-water mark."""
    subprocess.run([sys.executable, __file__, "--generate", str(folder), "--rows", str(rows)], check=True)


def run_child(python: str, script: str, folder: Path) -> dict[str, Any]:
    """Run one side; wall time from inside the child, peak RSS from wait4 on that child."""
    args = [python, "-c", script, str(folder), json.dumps(NUMERIC), json.dumps(CATEGORICAL)]
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return result


WHOLE_CACHE = Path(tempfile.gettempdir()) / "conveyor-bench-drift"
WHOLE_TARGETS = {"speedup": 10.0}

EVIDENTLY_WHOLE = r'''
import json, sys
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
reference, current, out = sys.argv[1:4]
numeric, categorical = json.loads(sys.argv[4]), json.loads(sys.argv[5])
ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
snapshot.save_html(out)
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        value, threshold = float(metric["value"]), float(config["threshold"])
        is_p = "p_value" in config.get("method", "")
        verdicts[config["column"]] = (value < threshold) if is_p else (value >= threshold)
print(json.dumps({"verdicts": verdicts}))
'''


def whole_setup(rows: int) -> tuple[Path, Path, Any]:
    """The churn example trained and promoted once; ``rows`` shifted new rows."""
    from churn_project import promoted_churn

    import conveyor

    project_dir = WHOLE_CACHE / "churn"
    current = promoted_churn(project_dir, Path("data") / f"new-{rows}.parquet", rows, seed=321, drift=1.0)
    return project_dir, current, conveyor.Project.load(project_dir).config


def run_whole(command: list[str]) -> dict[str, Any]:
    """One whole command: wall time from start to exit, peak RSS from wait4, its last JSON."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the largest child so far (see below)
    if proc.returncode != 0:
        return {"error": (stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "output": json.loads(stdout[stdout.index("{"):])}


def whole(args: argparse.Namespace, rows: int) -> None:
    """The whole commands side by side (see the module docstring), then RESULT."""
    project_dir, current, cfg = whole_setup(rows)
    reference = project_dir / cfg.data.train
    numeric, categorical = list(cfg.features.numeric), [*cfg.features.categorical, cfg.target]
    evidently_python, evidently_version = ensure_evidently()
    script = Path(sys.executable).with_name("conveyor")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "conveyor"]
    runs: dict[str, list[dict[str, Any]]] = {"conveyor": [], "evidently": []}
    with tempfile.TemporaryDirectory(prefix="conveyor-drift-whole-") as tmp:
        commands = {
            "conveyor": [*entry, "monitor", "churn", "--data", str(current), "--method", "evidently",
                         "--report", f"{tmp}/conveyor.html", "--project", str(project_dir), "--json"],
            "evidently": [str(evidently_python), "-c", EVIDENTLY_WHOLE, str(reference), str(current),
                          f"{tmp}/evidently.html", json.dumps(numeric), json.dumps(categorical)],
        }
        for round_ in range(args.rounds):
            for side in (["evidently", "conveyor"] if round_ % 2 else ["conveyor", "evidently"]):
                if side == "evidently" and evidently_python is None:
                    continue
                # each command in a child of its own, so RUSAGE_CHILDREN's peak is that command's
                result = run_in_fresh_parent(commands[side])
                runs[side].append(result)
                shown = result.get("error") or f"{result['seconds']:8.2f} s  {result['peak_rss_mb']:8.0f} MB"
                print(f"  round {round_ + 1} {side:9s} {shown}", flush=True)

    def summary(side: str) -> dict[str, Any] | None:
        ok = [r for r in runs[side] if "error" not in r]
        if not ok:
            return {"error": runs[side][-1]["error"]} if runs[side] else None
        return {"seconds": round(statistics.median(r["seconds"] for r in ok), 2),
                "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in ok), 1), "rounds": len(ok)}

    ours, theirs = summary("conveyor"), summary("evidently")
    agreement: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    per_round: list[float] = []
    if ours and theirs and "error" not in ours and "error" not in theirs:
        monitored = [r for r in runs["conveyor"] if "error" not in r][-1]["output"]
        ours_v = {f["column"]: bool(f["drifted"]) for f in monitored["drift"]["features"]}
        target = monitored["drift"]["target"]
        if target is not None:
            ours_v[cfg.target] = bool(target["drifted"])
        theirs_v = [r for r in runs["evidently"] if "error" not in r][-1]["output"]["verdicts"]
        columns = [*numeric, *categorical]
        agree = [c for c in columns if ours_v.get(c) == theirs_v.get(c)]
        agreement = {"features": len(columns), "agree": len(agree), "disagree": sorted(set(columns) - set(agree)),
                     "conveyor_drifted": sorted(c for c in columns if ours_v.get(c)),
                     "evidently_drifted": sorted(c for c in columns if theirs_v.get(c)),
                     "conveyor_verdict": monitored["verdict"]["status"]}
        ratios = {"speedup": round(theirs["seconds"] / ours["seconds"], 2),
                  "memory": round(ours["peak_rss_mb"] / theirs["peak_rss_mb"], 3)}
        per_round = [round(t["seconds"] / o["seconds"], 2) for o, t in zip(runs["conveyor"], runs["evidently"], strict=False)
                     if "error" not in o and "error" not in t]  # the two ran back to back
    print(f"\nwhole commands: {rows:,} new rows against the training data ({reference.name}), "
          f"{args.rounds} rounds (medians), {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'side':24s}{'wall s (median)':>18s}{'peak RSS MB':>14s}")
    for side, values in (("conveyor monitor", ours), (f"evidently {evidently_version}", theirs)):
        if values is None or "error" in values:
            print(f"{side:24s}  could not run: {(values or {}).get('error', evidently_version)}")
        else:
            print(f"{side:24s}{values['seconds']:18.2f}{values['peak_rss_mb']:14.0f}")
    if ratios:
        print(f"conveyor monitor vs Evidently, whole processes: {ratios['speedup']:.1f}x "
              f"(target >= {WHOLE_TARGETS['speedup']:g}x; ratio of the medians), memory {ratios['memory']:.3f} "
              f"of Evidently's; per round: {per_round}")
        print(f"verdicts agree on {agreement['agree']}/{agreement['features']} columns; disagree: "
              f"{agreement['disagree'] or 'none'}")
    print("RESULT " + json.dumps({"benchmark": "drift-whole", "size": {"current_rows": rows, "quick": args.quick,
                                                                      "rounds": args.rounds},
                                  "anchor": theirs or {"error": evidently_version}, "conveyor": ours,
                                  "ratios": ratios, "per_round": per_round, "agreement": agreement}))


def run_in_fresh_parent(command: list[str]) -> dict[str, Any]:
    """:func:`run_whole` in a process of its own (its children's peak RSS is then the command's)."""
    done = subprocess.run([sys.executable, __file__, "--run-whole", json.dumps(command)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows per side")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="default: 3, or 1 with --quick")
    parser.add_argument("--whole", action="store_true", help="time whole commands as processes")
    parser.add_argument("--generate", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--run-whole", metavar="COMMAND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_whole:
        print(json.dumps(run_whole(json.loads(args.run_whole))))
        return
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    if args.generate:
        generate(rows, Path(args.generate))
        return
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.whole:
        from churn_project import bytecode_warning

        if (warning := bytecode_warning()) is not None:
            print(warning, flush=True)
        whole(args, rows)
        return

    evidently_python, evidently_version = ensure_evidently()
    runs: dict[str, list[dict[str, Any]]] = {"conveyor": [], "evidently": []}
    with tempfile.TemporaryDirectory(prefix="conveyor-drift-bench-") as tmp:
        folder = Path(tmp)
        print(f"generating {rows:,} + {rows:,} rows, {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical …")
        generate_in_child(rows, folder)
        for round_ in range(args.rounds):
            sides = ["evidently", "conveyor"] if round_ % 2 else ["conveyor", "evidently"]
            for side in sides:
                if side == "evidently" and evidently_python is None:
                    continue
                python = sys.executable if side == "conveyor" else str(evidently_python)
                script = CONVEYOR_CHILD if side == "conveyor" else EVIDENTLY_CHILD
                result = run_child(python, script, folder)
                runs[side].append(result)
                print(f"  round {round_ + 1} {side:9s} {result['seconds']:8.2f} s  {result['peak_rss_mb']:8.0f} MB")

    def summary(side: str) -> dict[str, Any] | None:
        if not runs[side]:
            return None
        return {
            "seconds": statistics.median(r["seconds"] for r in runs[side]),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs[side]),
            "rounds": len(runs[side]),
        }

    ours, theirs = summary("conveyor"), summary("evidently")
    agreement: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    if ours and theirs:
        ours_v, theirs_v = runs["conveyor"][-1]["verdicts"], runs["evidently"][-1]["verdicts"]
        columns = [*NUMERIC, *CATEGORICAL]
        agree = [c for c in columns if ours_v.get(c) == theirs_v.get(c)]
        clear_shifted_ok = all(ours_v.get(c) and theirs_v.get(c) for c in SHIFTED)
        stable = [c for c in columns if c not in SHIFTED]
        clear_stable_ok = all(not ours_v.get(c) and not theirs_v.get(c) for c in stable)
        agreement = {
            "features": len(columns),
            "agree": len(agree),
            "disagree": sorted(set(columns) - set(agree)),
            "shifted_all_flagged_by_both": clear_shifted_ok,
            "stable_all_passed_by_both": clear_stable_ok,
        }
        ratios = {
            "speedup": theirs["seconds"] / ours["seconds"],
            "memory": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
        }
    print()
    print(f"{'side':12s}{'wall s (median)':>18s}{'peak RSS MB':>14s}{'rounds':>8s}")
    for side, values in (("conveyor", ours), (f"evidently {evidently_version}" if evidently_python else "evidently", theirs)):
        if values is None:
            print(f"{side:12s}  not run: {evidently_version}")
        else:
            print(f"{side:12s}{values['seconds']:18.2f}{values['peak_rss_mb']:14.0f}{values['rounds']:8d}")
    if ratios:
        print(f"speedup {ratios['speedup']:.1f}x (target >= {TARGETS['speedup']:g}x), "
              f"memory {ratios['memory']:.3f} of Evidently's (target <= {TARGETS['memory']:g})")
        print(f"verdicts agree on {agreement['agree']}/{agreement['features']} features; "
              f"disagree: {agreement['disagree'] or 'none'}; shifted flagged by both: "
              f"{agreement['shifted_all_flagged_by_both']}; stable passed by both: "
              f"{agreement['stable_all_passed_by_both']}")
    payload = {
        "benchmark": "drift",
        "size": {"reference_rows": rows, "current_rows": rows, "numeric": len(NUMERIC),
                 "categorical": len(CATEGORICAL), "rounds": args.rounds, "quick": args.quick},
        "anchor": theirs or {"error": evidently_version},
        "conveyor": ours,
        "ratios": ratios,
        "agreement": agreement,
    }
    print("RESULT " + json.dumps(payload))


if __name__ == "__main__":
    main()
