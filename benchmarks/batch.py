"""Batch scoring benchmark (issue 5): conveyor's local and Spark engines against the plain ways.

    python benchmarks/batch.py            # 5M rows, 3 rounds
    python benchmarks/batch.py --quick    # 200k rows, 2 rounds, under a few minutes
    python benchmarks/batch.py --whole    # whole processes (below), 5M rows, 3 rounds

Engines (default): the clock starts inside each child after start-up (imports, connecting,
Spark session), so it times the engines alone. Sides, alternated each round:

on one generated Parquet input of the churn example:
  (a) anchor   mlflow.pyfunc.load_model(...).predict(pd.read_parquet(...)), predictions written to Parquet
  (b) conveyor local engine (N worker processes = cores)
  (c) conveyor Spark engine, local[2]
  (d) mlflow.pyfunc.spark_udf, local[2], spark.read.parquet → udf → write.parquet
Each side runs in its own child process; peak RSS covers the child's whole process tree
(workers, JVM and Python workers included): the sum over every process of the tree of its
own peak (VmHWM, recorded by the kernel, so no spike between samples is missed), never less
than the largest sum of RSS sampled from /proc every 20 ms (also shown). Spark sides are timed after session start and one warm-up job (both alike).

Whole commands (``--whole``): what a user waits for, from starting the process to its exit
(interpreter start, imports, connecting to the store, loading the model, reading, scoring,
writing), each a command of its own, alternated each round:
  (w1) plain script  ``python -c``: mlflow.pyfunc.load_model("models:/churn@prod"),
       predict(pd.read_parquet(input)), customer_id and prediction written with to_parquet
  (w2) pyarrow       ``python -c``: pq.read_table(input), the output columns conveyor adds
       appended (constants: no model), pq.write_table — the floor of reading and writing
       the same input and output columns
  (w3) conveyor      ``conveyor predict churn@prod --input … --output …``, its default
       output: every input column, prediction, the probabilities and the model columns
The predictions of (w1) and (w3) are compared row by row before a ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path(tempfile.gettempdir()) / "conveyor-bench-batch"))
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "plan", "region", "payment_method"]
SIDES = ("anchor", "local", "spark", "spark_udf")
WHOLE_SIDES = ("plain", "pyarrow", "conveyor")

PLAIN_SCRIPT = """
import sys
import mlflow
import pandas as pd
tracking, registry, data, out = sys.argv[1:5]
mlflow.set_tracking_uri(tracking)
mlflow.set_registry_uri(registry)
model = mlflow.pyfunc.load_model("models:/churn@prod")
frame = pd.read_parquet(data)
pd.DataFrame({"customer_id": frame["customer_id"], "prediction": model.predict(frame)}).to_parquet(out)
"""

PYARROW_SCRIPT = """
import sys
import pyarrow as pa
import pyarrow.parquet as pq
data, out = sys.argv[1:3]
table = pq.read_table(data)
rows = table.num_rows
table = table.append_column("prediction", pa.repeat(pa.scalar(0, pa.int64()), rows))
for name in ("probability", "probability_0", "probability_1"):
    table = table.append_column(name, pa.repeat(pa.scalar(0.5, pa.float64()), rows))
for name, value in (("model_name", "churn"), ("model_version", "1"), ("model_run_id", "0" * 32)):
    table = table.append_column(name, pa.repeat(pa.scalar(value, pa.large_string()), rows))
pq.write_table(table, out)
"""


# --- setup ------------------------------------------------------------------------------

def setup(rows: int) -> tuple[Path, Path]:
    from churn_project import promoted_churn

    project_dir = CACHE / "churn"
    return project_dir, promoted_churn(project_dir, Path("data") / f"bench-{rows}.parquet", rows, seed=123)


# --- children ---------------------------------------------------------------------------

def child(side: str, project_dir: Path, data: Path, out: Path) -> dict:
    import conveyor

    project = conveyor.Project.load(project_dir)
    project.client  # noqa: B018 - connect
    version = project.registry.alias_holder("churn", "prod")
    uri = f"models:/churn/{version}"
    if side in ("anchor", "spark_udf"):  # a plain MLflow script points MLflow at the store itself
        import mlflow

        mlflow.set_tracking_uri(project.stack.tracking_uri)
        mlflow.set_registry_uri(project.stack.registry_uri)
    spark = None
    if side in ("spark", "spark_udf"):
        os.environ["PYSPARK_PYTHON"] = sys.executable
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        spark.createDataFrame([(i,) for i in range(4)], "a long").mapInPandas(lambda it: it, "a long").count()
    started = time.perf_counter()
    if side == "anchor":
        import mlflow
        import pandas as pd

        model = mlflow.pyfunc.load_model(uri)
        frame = pd.read_parquet(data)
        predictions = model.predict(frame)
        pd.DataFrame({"customer_id": frame["customer_id"], "prediction": predictions}).to_parquet(out)
        rows = len(frame)
    elif side in ("local", "spark"):
        from conveyor.batch import predict
        from conveyor.core.config.schema import BatchSpec

        project.config.batch = BatchSpec(keep=["customer_id"])
        engine = "local"
        if side == "spark":
            from conveyor.batch.engines.spark import SparkEngine

            engine = SparkEngine(master="local[2]")
        rows = predict(project.lifecycle, "churn@prod", str(data), str(out), engine=engine).manifest.rows_out
    else:
        import mlflow
        from pyspark.sql.functions import col

        udf = mlflow.pyfunc.spark_udf(spark, uri, result_type="long", env_manager="local")
        frame = spark.read.parquet(str(data))
        frame.select("customer_id", udf(*[col(c) for c in FEATURES]).alias("prediction")).write.parquet(str(out))
        rows = spark.read.parquet(str(out)).count()
    seconds = time.perf_counter() - started
    return {"rows": int(rows), "seconds": seconds}


def tree_pids(pid: int) -> list[int]:
    """A process and all its live descendants, from /proc."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of one process in KiB: its resident set now, and the kernel's record of its peak."""
    values = {"VmRSS:": 0, "VmHWM:": 0}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key = line.split(maxsplit=1)[0] if line.strip() else ""
                if key in values:
                    values[key] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return values["VmRSS:"], values["VmHWM:"]


class TreeMemory:
    """Peak memory of a process tree, two ways: the largest sampled sum of RSS over the tree, and
    the sum over every process ever seen of its own kernel-recorded peak (VmHWM). The second
    catches spikes between samples and can only overstate (processes may peak at different
    times); it is the figure reported. For a single process it is exact."""

    def __init__(self) -> None:
        self.sampled_kb = 0
        self.hwm_kb: dict[int, int] = {}

    def sample(self, pid: int) -> None:
        total = 0
        for member in tree_pids(pid):
            rss, hwm = memory_kb(member)
            total += rss
            self.hwm_kb[member] = max(hwm, self.hwm_kb.get(member, 0))
        self.sampled_kb = max(self.sampled_kb, total)

    @property
    def peak_kb(self) -> int:
        return max(self.sampled_kb, sum(self.hwm_kb.values()))


def run_side(side: str, project_dir: Path, data: Path, timeout: float) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{side}-")) / "out"
    command = [sys.executable, __file__, "--child", side, "--project", str(project_dir), "--data", str(data), "--out", str(out)]
    result = run_process(command, timeout)
    subprocess.run(["rm", "-rf", str(out.parent)], check=False)
    if "error" in result:
        return result
    lines = [line for line in result.pop("stdout").splitlines() if line.startswith("CHILD ")]
    if not lines:
        return {"error": "no output"}
    result.update(json.loads(lines[-1][6:]))
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result


def run_process(command: list[str], timeout: float) -> dict:
    """Run one command; its wall time from start to exit, the peak memory of its process
    tree and its stdout (or an error: the last line of stderr)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            memory.sample(process.pid)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        return {"error": (stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return {"stdout": stdout, "process_seconds": wall, "peak_rss_mb": round(memory.peak_kb / 1024, 1),
            "sampled_rss_mb": round(memory.sampled_kb / 1024, 1)}


def print_table(labels: dict[str, str], sides: list[str], summary: dict[str, dict],
                extra: tuple[tuple[str, str], ...]) -> None:
    """One row per side: rows/s, seconds, peak RSS and the ``extra`` (heading, key) columns."""
    width = max(len(labels[s]) for s in sides) + 2
    print(f"{'side':<{width}}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>14}" + "".join(f"{h:>12}" for h, _ in extra))
    for side in sides:
        s = summary[side]
        if "error" in s:
            print(f"{labels[side]:<{width}}  could not run: {s['error']}")
        else:
            print(f"{labels[side]:<{width}}{s['rows_per_s']:>12,}{s['seconds']:>10}{s['peak_rss_mb']:>14,}"
                  + "".join(f"{s[k]:>12,}" for _, k in extra))


def whole_command(side: str, project_dir: Path, data: Path, out: Path, uris: tuple[str, str]) -> list[str]:
    if side == "plain":
        return [sys.executable, "-c", PLAIN_SCRIPT, *uris, str(data), str(out)]
    if side == "pyarrow":
        return [sys.executable, "-c", PYARROW_SCRIPT, str(data), str(out)]
    script = Path(sys.executable).with_name("conveyor")
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "conveyor"]
    return [*entry, "predict", "churn@prod", "--input", str(data), "--output", str(out), "--project", str(project_dir)]


def predictions_agree(plain: Path, ours: Path) -> bool:
    """The plain script's predictions equal conveyor's, row by row (matched by customer_id)."""
    import numpy as np
    import pyarrow.parquet as pq

    theirs = pq.read_table(plain, columns=["customer_id", "prediction"]).to_pandas()
    mine = pq.read_table(str(ours), columns=["customer_id", "prediction"]).to_pandas()
    if len(theirs) != len(mine):
        return False
    theirs, mine = theirs.sort_values("customer_id"), mine.sort_values("customer_id")
    return bool(np.array_equal(theirs["customer_id"].to_numpy(), mine["customer_id"].to_numpy())
                and np.array_equal(theirs["prediction"].to_numpy(), mine["prediction"].to_numpy()))


def whole(rows: int, rounds: int, project_dir: Path, data: Path) -> None:
    """The whole commands side by side (see the module docstring), then RESULT."""
    import conveyor

    stack = conveyor.Project.load(project_dir).stack
    uris = (stack.tracking_uri, stack.registry_uri)
    timings: dict[str, list[dict]] = {s: [] for s in WHOLE_SIDES}
    agree: bool | None = None
    for r in range(rounds):
        order = WHOLE_SIDES if r % 2 == 0 else WHOLE_SIDES[::-1]
        folder = Path(tempfile.mkdtemp(prefix="bench-whole-"))
        for side in order:
            result = run_process(whole_command(side, project_dir, data, folder / side, uris), timeout=3600)
            result.pop("stdout", None)
            if "error" not in result:
                result["rows_per_s"] = rows / result["process_seconds"]
            timings[side].append(result)
            shown = result.get("error") or (f"{result['process_seconds']:.2f} s, {result['rows_per_s']:,.0f} rows/s, "
                                            f"peak RSS {result['peak_rss_mb']:,.0f} MB")
            print(f"  round {r + 1} {side:<9} {shown}", flush=True)
        if agree is None and all("error" not in timings[s][-1] for s in ("plain", "conveyor")):
            agree = predictions_agree(folder / "plain", folder / "conveyor")
        subprocess.run(["rm", "-rf", str(folder)], check=False)

    summary: dict[str, dict] = {}
    for side, results in timings.items():
        ok = [x for x in results if "error" not in x]
        summary[side] = {"error": results[-1].get("error", "not run")} if not ok else {
            "rows_per_s": round(statistics.median(x["rows_per_s"] for x in ok)),
            "seconds": round(statistics.median(x["process_seconds"] for x in ok), 2),
            "peak_rss_mb": round(statistics.median(x["peak_rss_mb"] for x in ok), 1),
            "runs": len(ok),
        }

    def ratio(a: str, b: str) -> float | None:
        if "error" in summary[a] or "error" in summary[b] or not agree and "plain" in (a, b):
            return None
        return round(summary[a]["rows_per_s"] / summary[b]["rows_per_s"], 2)

    ratios = {"whole_speedup": ratio("conveyor", "plain"), "whole_vs_pyarrow": ratio("conveyor", "pyarrow")}

    def per_round(anchor: str) -> list[float]:
        """conveyor's rows/s over the anchor's in each round (the two ran back to back)."""
        return [round(ours["rows_per_s"] / theirs["rows_per_s"], 2)
                for ours, theirs in zip(timings["conveyor"], timings[anchor], strict=True)
                if "error" not in ours and "error" not in theirs]

    rounds_ratios = {"whole_speedup": per_round("plain"), "whole_vs_pyarrow": per_round("pyarrow")}
    labels = {"plain": "(w1) plain pyfunc script", "pyarrow": "(w2) pyarrow read + write",
              "conveyor": "(w3) conveyor predict (default output)"}
    print(f"\nwhole commands, {rows:,} rows, {rounds} rounds (medians), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print_table(labels, list(WHOLE_SIDES), summary, ())
    print(f"predictions of (w1) and (w3) agree row by row: {agree}")
    print(f"conveyor predict vs the plain script: {ratios['whole_speedup']}x (target >= 2); "
          f"vs pyarrow read + write: {ratios['whole_vs_pyarrow']} (target >= 0.5); ratios of the medians")
    print(f"the same per round: vs the plain script {rounds_ratios['whole_speedup']}, "
          f"vs pyarrow {rounds_ratios['whole_vs_pyarrow']}")
    print("RESULT " + json.dumps({"benchmark": "batch-whole", "size": rows, "rounds": rounds, "cores": os.cpu_count(),
                                   "anchor": summary["plain"], "pyarrow": summary["pyarrow"],
                                   "conveyor": summary["conveyor"], "agree": agree, "ratios": ratios,
                                   "per_round": rounds_ratios}))


# --- main -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--whole", action="store_true", help="time whole commands as processes")
    parser.add_argument("--child")
    parser.add_argument("--project")
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        result = child(args.child, Path(args.project), Path(args.data), Path(args.out))
        print("CHILD " + json.dumps(result), flush=True)
        return

    rows = args.rows or (200_000 if args.quick else 5_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    sides = [s for s in args.sides.split(",") if s]
    print(f"setting up: churn model and {rows:,} rows under {CACHE} …", flush=True)
    project_dir, data = setup(rows)
    if args.whole:
        from churn_project import bytecode_warning

        if (warning := bytecode_warning()) is not None:
            print(warning, flush=True)
        whole(rows, rounds, project_dir, data)
        return
    timings: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(rounds):
        for side in sides:
            result = run_side(side, project_dir, data, timeout=3600)
            timings[side].append(result)
            shown = result.get("error") or f"{result['rows_per_s']:,.0f} rows/s, peak RSS {result['peak_rss_mb']:,.0f} MB"
            print(f"  round {r + 1} {side:<9} {shown}", flush=True)

    summary: dict[str, dict] = {}
    for side, results in timings.items():
        ok = [x for x in results if "error" not in x]
        if not ok:
            summary[side] = {"error": results[-1].get("error") if results else "not run"}
            continue
        summary[side] = {
            "rows_per_s": round(statistics.median(x["rows_per_s"] for x in ok)),
            "seconds": round(statistics.median(x["seconds"] for x in ok), 2),
            "peak_rss_mb": round(statistics.median(x["peak_rss_mb"] for x in ok), 1),
            "sampled_rss_mb": round(statistics.median(x["sampled_rss_mb"] for x in ok), 1),
            "runs": len(ok),
        }

    def ratio(a: str, b: str, key: str) -> float | None:
        if "error" in summary.get(a, {"error": 1}) or "error" in summary.get(b, {"error": 1}):
            return None
        return round(summary[a][key] / summary[b][key], 2)

    ratios = {
        "local_speedup": ratio("local", "anchor", "rows_per_s"),
        "local_memory": ratio("local", "anchor", "peak_rss_mb"),
        "spark_vs_spark_udf": ratio("spark", "spark_udf", "rows_per_s"),
    }
    labels = {"anchor": "(a) pyfunc.load_model + predict", "local": "(b) conveyor local engine",
              "spark": "(c) conveyor Spark local[2]", "spark_udf": "(d) mlflow spark_udf local[2]"}
    print(f"\nbatch scoring, {rows:,} rows, {rounds} rounds (medians), {os.cpu_count()} cores")
    print_table(labels, sides, summary, (("sampled MB", "sampled_rss_mb"),))
    print(f"local speedup vs anchor: {ratios['local_speedup']}x (target >= 2); "
          f"local memory vs anchor: {ratios['local_memory']} (target <= 0.25); "
          f"Spark engine vs spark_udf: {ratios['spark_vs_spark_udf']}x (target >= 1)")
    print("RESULT " + json.dumps({"benchmark": "batch", "size": rows, "rounds": rounds, "cores": os.cpu_count(),
                                   "anchor": summary.get("anchor"), "conveyor": {"local": summary.get("local"), "spark": summary.get("spark")},
                                   "spark_udf": summary.get("spark_udf"), "ratios": ratios}))


if __name__ == "__main__":
    main()
