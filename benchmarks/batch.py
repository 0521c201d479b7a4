"""Batch scoring benchmark (issue 5): conveyor's local and Spark engines against the plain ways.

    python benchmarks/batch.py            # 5M rows, 3 rounds
    python benchmarks/batch.py --quick    # 200k rows, 2 rounds, under a few minutes

Sides, on one generated Parquet input of the churn example, alternated each round:
  (a) anchor   mlflow.pyfunc.load_model(...).predict(pd.read_parquet(...)), predictions written to Parquet
  (b) conveyor local engine (N worker processes = cores)
  (c) conveyor Spark engine, local[2]
  (d) mlflow.pyfunc.spark_udf, local[2], spark.read.parquet → udf → write.parquet
Each side runs in its own child process; peak RSS covers the child's whole process tree
(workers, JVM and Python workers included): the sum over every process of the tree of its
own peak (VmHWM, recorded by the kernel, so no spike between samples is missed), never less
than the largest sum of RSS sampled from /proc every 20 ms (also shown). Spark sides are timed after session start and one warm-up job (both alike).
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


# --- setup ------------------------------------------------------------------------------

def setup(rows: int) -> tuple[Path, Path]:
    from conveyor.scaffold import generate_example_data, init_project

    project_dir = CACHE / "churn"
    if not (project_dir / ".conveyor").exists():
        import conveyor

        init_project(project_dir) if not project_dir.exists() else None
        project = conveyor.Project.load(project_dir)
        project.train()
        project.promote("staging")
        project.promote("prod")
    data = project_dir / "data" / f"bench-{rows}.parquet"
    if not data.exists():
        generate_example_data(project_dir, rows=rows, seed=123, out=data.relative_to(project_dir))
    return project_dir, data


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
    stop.set()
    sampler.join()
    subprocess.run(["rm", "-rf", str(out.parent)], check=False)
    lines = [line for line in stdout.splitlines() if line.startswith("CHILD ")]
    if process.returncode != 0 or not lines:
        return {"error": (stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result = json.loads(lines[-1][6:])
    result["peak_rss_mb"] = round(memory.peak_kb / 1024, 1)
    result["sampled_rss_mb"] = round(memory.sampled_kb / 1024, 1)
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result


# --- main -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--sides", default=",".join(SIDES))
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
    print(f"{'side':<34}{'rows/s':>12}{'seconds':>10}{'peak RSS MB':>14}{'sampled MB':>12}")
    for side in sides:
        s = summary[side]
        if "error" in s:
            print(f"{labels[side]:<34}  could not run: {s['error']}")
        else:
            print(f"{labels[side]:<34}{s['rows_per_s']:>12,}{s['seconds']:>10}{s['peak_rss_mb']:>14,}"
                  f"{s['sampled_rss_mb']:>12,}")
    print(f"local speedup vs anchor: {ratios['local_speedup']}x (target >= 2); "
          f"local memory vs anchor: {ratios['local_memory']} (target <= 0.25); "
          f"Spark engine vs spark_udf: {ratios['spark_vs_spark_udf']}x (target >= 1)")
    print("RESULT " + json.dumps({"benchmark": "batch", "size": rows, "rounds": rounds, "cores": os.cpu_count(),
                                   "anchor": summary.get("anchor"), "conveyor": {"local": summary.get("local"), "spark": summary.get("spark")},
                                   "spark_udf": summary.get("spark_udf"), "ratios": ratios}))


if __name__ == "__main__":
    main()
