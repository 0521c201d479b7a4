"""Overhead of `conveyor train` against a hand-written MLflow script doing the same work.

Both sides run as subprocesses on the bundled churn example (5,000 rows), each against its
own fresh SQLite MLflow store: load parquet, time split, the example's train(), accuracy /
f1 / roc_auc, params and metrics, log_model with signature and input example, register a
version and set an alias. Also times `conveyor --help` cold start and checks that it loads
no MLflow, pandas or scikit-learn.

    python benchmarks/train_overhead.py [--quick] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROWS = 5000  # init_project's default data size
HEAVY_MODULES = ("mlflow", "pandas", "sklearn")
HELP_TARGET_S = 0.5
RATIO_TARGET = 1.3
# Settings that would point either child at a store other than its own.
STORE_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "CONVEYOR_TRACKING_URI",
    "CONVEYOR_ARTIFACT_STORE",
)

PLAIN_SCRIPT = '''\
"""What a data scientist writes by hand: the churn example on plain MLflow."""
import importlib.util
import sys
from importlib.metadata import version
from pathlib import Path

import cloudpickle
import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn import metrics

NAME = "churn"
TARGET = "churned"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "support_calls",
            "plan", "region", "payment_method"]
PARAMS = {"C": 1.0}
TEST_SIZE = 0.2

project, store = Path(sys.argv[1]), Path(sys.argv[2])
store.mkdir(parents=True, exist_ok=True)
uri = f"sqlite:///{(store / 'mlflow.db').as_posix()}"
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
client = MlflowClient(tracking_uri=uri, registry_uri=uri)

frame = pd.read_parquet(project / "data" / "train.parquet")
ordered = frame.sort_values("signup_date", kind="stable")
cut = int(round(len(ordered) * (1 - TEST_SIZE)))
train, test = ordered.iloc[:cut], ordered.iloc[cut:]
X_train, y_train = train[FEATURES], train[TARGET]
X_test, y_test = test[FEATURES], test[TARGET]

spec = importlib.util.spec_from_file_location("churn_train", project / "train.py")
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
cloudpickle.register_pickle_by_value(module)

experiment = client.get_experiment_by_name(NAME)
if experiment is not None:
    experiment_id = experiment.experiment_id
else:
    artifacts = (store / "artifacts").resolve().as_uri()
    experiment_id = client.create_experiment(NAME, artifact_location=artifacts)

with mlflow.start_run(experiment_id=experiment_id) as run:
    mlflow.log_params({**PARAMS, "train.rows": len(X_train), "test.rows": len(X_test)})
    model = module.train(X_train, y_train, PARAMS)
    predictions = model.predict(X_test)
    mlflow.log_metrics({
        "accuracy": float(metrics.accuracy_score(y_test, predictions)),
        "f1": float(metrics.f1_score(y_test, predictions)),
        "roc_auc": float(metrics.roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])),
    })
    example = X_train.head(5)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        serialization_format="cloudpickle",
        pip_requirements=[f"{p}=={version(p)}" for p in
                          ("scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")],
    )
    try:
        client.get_registered_model(NAME)
    except MlflowException:
        client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, source=info.model_uri, run_id=run.info.run_id,
                                     model_id=info.model_id)
    client.set_registered_model_alias(NAME, "dev", mv.version)
print(f"{NAME} v{mv.version} -> dev")
'''

# Scaffolding runs in a child: pandas in this process would inflate every child's peak RSS
# (Linux counts the forking parent's resident pages in a child's ru_maxrss).
INIT_PROJECT = (
    "import sys; from pathlib import Path; from conveyor.scaffold import init_project; "
    "init_project(Path(sys.argv[1]))"
)

HELP_IMPORTS_CHECK = """\
import json, sys
from conveyor.cli.app import app
try:
    app(["--help"], prog_name="conveyor")
except SystemExit:
    pass
print(json.dumps({m: m in sys.modules for m in %r}))
""" % (HEAVY_MODULES,)


@dataclass(frozen=True)
class Sample:
    """One child process: wall seconds, CPU seconds (user + system) and peak resident memory."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Side:
    """How to run one side of the comparison."""

    label: str
    command: list[str]
    cwd: Path


def child_env() -> dict[str, str]:
    """This environment without store settings that would redirect either child."""
    return {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}


def run_child(command: list[str], cwd: Path) -> Sample:
    """Run a command to completion; wall time plus CPU time and peak RSS from wait4."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=child_env(), stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(seconds, cpu, usage.ru_maxrss / 1024)  # Linux reports ru_maxrss in KiB


def init_project(folder: Path) -> Path:
    """`conveyor.scaffold.init_project(folder)` in a child process."""
    subprocess.run([sys.executable, "-c", INIT_PROJECT, str(folder)], env=child_env(), check=True)
    return folder


def prepare(root: Path) -> tuple[Side, Side]:
    """Two fresh example projects: one for conveyor, one for the plain script."""
    bin_dir = Path(sys.executable).parent
    conveyor_project = init_project(root / "conveyor-project")
    plain_project = init_project(root / "plain-project")
    script = root / "plain_train.py"
    script.write_text(PLAIN_SCRIPT, encoding="utf-8")
    anchor = Side(
        "plain MLflow script",
        [sys.executable, str(script), str(plain_project), str(plain_project / ".plain")],
        plain_project,
    )
    conveyor = Side(
        "conveyor train",
        [str(bin_dir / "conveyor"), "train", "--project", str(conveyor_project)],
        conveyor_project,
    )
    return anchor, conveyor


def measure_train(anchor: Side, conveyor: Side, rounds: int) -> dict[str, list[Sample]]:
    """One untimed warm-up each (it migrates the SQLite store), then alternate sides."""
    for side in (anchor, conveyor):
        run_child(side.command, side.cwd)
    samples: dict[str, list[Sample]] = {anchor.label: [], conveyor.label: []}
    for number in range(rounds):
        order = (anchor, conveyor) if number % 2 == 0 else (conveyor, anchor)
        for side in order:
            samples[side.label].append(run_child(side.command, side.cwd))
        print(f"  round {number + 1}/{rounds} done", file=sys.stderr)
    return samples


def measure_help(repeats: int) -> Sample:
    """Median wall time and peak RSS of `conveyor --help` as a fresh process."""
    command = [str(Path(sys.executable).parent / "conveyor"), "--help"]
    runs = [run_child(command, Path.cwd()) for _ in range(repeats)]
    return summarize(runs)


def help_imports() -> dict[str, bool]:
    """Which heavy modules are in sys.modules after importing the CLI and printing help."""
    out = subprocess.run(
        [sys.executable, "-c", HELP_IMPORTS_CHECK],
        env=child_env(), capture_output=True, text=True, check=True,
    )
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summarize(samples: list[Sample]) -> Sample:
    """Medians of wall time, CPU time and peak RSS."""
    return Sample(
        statistics.median(s.seconds for s in samples),
        statistics.median(s.cpu_seconds for s in samples),
        statistics.median(s.peak_rss_mb for s in samples),
    )


def machine() -> dict[str, float]:
    """CPU count and 1-minute load average: the noise context of this run."""
    return {"cpus": float(os.cpu_count() or 0), "load_1m": round(os.getloadavg()[0], 2)}


def print_table(anchor: Sample, conveyor: Sample, rounds: int, help_s: Sample,
                loaded: dict[str, bool]) -> None:
    """The human-readable report."""
    ratios = [conveyor.seconds / anchor.seconds, conveyor.cpu_seconds / anchor.cpu_seconds,
              conveyor.peak_rss_mb / anchor.peak_rss_mb]
    print(f"\ntrain overhead: churn example, {ROWS} rows, {rounds} alternating rounds (medians)")
    print("machine: {cpus:.0f} CPUs, load average {load_1m} at the end".format(**machine()))
    print(f"{'side':<24}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}")
    for label, sample in (("plain MLflow script", anchor), ("conveyor train (CLI)", conveyor)):
        print(f"{label:<24}{sample.seconds:>9.2f}{sample.cpu_seconds:>9.2f}"
              f"{sample.peak_rss_mb:>13.0f}")
    print(f"{'ratio conveyor/plain':<24}{ratios[0]:>9.2f}{ratios[1]:>9.2f}{ratios[2]:>13.2f}"
          f"   (wall-time target <= {RATIO_TARGET})")
    print("note: no version holds the 'prod' alias in either store, so conveyor's gate does no")
    print("      champion comparison (no champion model is loaded or scored); conveyor also")
    print("      computes fairness metrics and a monitoring baseline profile, and logs")
    print("      config/fingerprint artifacts, gate tags and an audit event.")
    print(f"\nconveyor --help cold start: {help_s.seconds:.3f} s median "
          f"(target < {HELP_TARGET_S}), peak RSS {help_s.peak_rss_mb:.0f} MB")
    for module, present in loaded.items():
        print(f"  {module} imported by CLI + help: {'yes' if present else 'no'}")


def side_json(sample: Sample) -> dict[str, float]:
    """One side's medians for RESULT."""
    return {"median_s": round(sample.seconds, 3), "median_cpu_s": round(sample.cpu_seconds, 3),
            "peak_rss_mb": round(sample.peak_rss_mb, 1)}


def result_json(anchor: Sample, conveyor: Sample, rounds: int, help_s: Sample,
                loaded: dict[str, bool]) -> dict[str, Any]:
    """The RESULT object per BENCHMARKS.md."""
    return {
        "benchmark": "train_overhead",
        "size": {"rows": ROWS, "rounds": rounds},
        "anchor": {"name": "plain mlflow script", **side_json(anchor)},
        "conveyor": {"name": "conveyor train", **side_json(conveyor), "champion_compared": False},
        "ratios": {"time": round(conveyor.seconds / anchor.seconds, 3),
                   "cpu": round(conveyor.cpu_seconds / anchor.cpu_seconds, 3),
                   "memory": round(conveyor.peak_rss_mb / anchor.peak_rss_mb, 3)},
        "help_cold_start_s": round(help_s.seconds, 3),
        "help_imports_heavy": loaded,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 5 help runs (under a minute on a quiet machine)")
    parser.add_argument("--rounds", type=int, default=None, help="override the round count")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 7)
    root = Path(tempfile.mkdtemp(prefix="conveyor-train-overhead-"))
    try:
        anchor_side, conveyor_side = prepare(root)
        samples = measure_train(anchor_side, conveyor_side, rounds)
        help_s = measure_help(5 if args.quick else 10)
        loaded = help_imports()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    anchor = summarize(samples[anchor_side.label])
    conveyor = summarize(samples[conveyor_side.label])
    print_table(anchor, conveyor, rounds, help_s, loaded)
    print("RESULT " + json.dumps(result_json(anchor, conveyor, rounds, help_s, loaded)))


if __name__ == "__main__":
    main()
