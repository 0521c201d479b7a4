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
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows per side")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="default: 3, or 1 with --quick")
    parser.add_argument("--generate", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    if args.generate:
        generate(rows, Path(args.generate))
        return
    args.rounds = args.rounds or (1 if args.quick else 3)

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
