"""Fixed cost of short commands: `conveyor models`, `conveyor promote`, `conveyor --help`, each
a whole process, against a plain Python script making the same MLflow calls.

One churn project is trained twice on the embedded SQLite store (two gate-passed versions),
then the sides alternate round by round on that same store:

    models   conveyor models                      plain: MlflowClient.get_registered_model,
                                                  search_model_versions, get_run per version,
                                                  a printed table
    promote  conveyor promote --to staging        plain: get_registered_model, get_model_version,
             --version N --force --reason …       set_registered_model_alias, one version tag,
                                                  two model tags, one audit line appended
             (N alternates 1, 2, so every round moves the alias)
    help     conveyor --help                      anchor: mlflow --help (MLflow's own CLI)

    python benchmarks/commands.py [--quick] [--rounds N]
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

RATIO_TARGET = 1.3
STORE_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "CONVEYOR_TRACKING_URI",
                   "CONVEYOR_ARTIFACT_STORE")

PLAIN_MODELS = '''\
"""`conveyor models` by hand: the same MlflowClient calls, a printed table."""
import sys
from mlflow import MlflowClient

uri = sys.argv[1]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
model = client.get_registered_model("churn")
by_version = {}
for alias, version in model.aliases.items():
    by_version.setdefault(str(version), []).append(alias)
print("version  aliases  gate  roc_auc  f1  accuracy")
for mv in client.search_model_versions("name = 'churn'", max_results=20, order_by=["version_number DESC"]):
    metrics = client.get_run(mv.run_id).data.metrics
    print(mv.version, ",".join(by_version.get(str(mv.version), [])), mv.tags.get("conveyor.gate"),
          *(round(metrics.get(k, float("nan")), 4) for k in ("roc_auc", "f1", "accuracy")))
'''

PLAIN_PROMOTE = '''\
"""`conveyor promote --force --reason` by hand: the same registry writes and an audit line."""
import getpass
import json
import sys
from datetime import datetime, timezone
from mlflow import MlflowClient

uri, version, audit = sys.argv[1], sys.argv[2], sys.argv[3]
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
model = client.get_registered_model("churn")
current = model.aliases.get("staging")
mv = client.get_model_version("churn", version)
history = json.loads(model.tags.get("plain.history.staging", "[]")) + [version]
event = json.dumps({"action": "promote", "model": "churn", "stage": "staging", "from_version": current,
                    "to_version": version, "reason": "benchmark", "forced": True,
                    "who": getpass.getuser(), "at": datetime.now(timezone.utc).isoformat()})
client.set_registered_model_alias("churn", "staging", mv.version)
client.set_model_version_tag("churn", mv.version, "plain.stage.staging", event)
client.set_registered_model_tag("churn", "plain.history.staging", json.dumps(history[-100:]))
client.set_registered_model_tag("churn", "plain.last_move.staging", event)
with open(audit, "a", encoding="utf-8") as log:
    log.write(event + "\\n")
print(f"churn: staging v{current} -> v{version}")
'''


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_mb: float


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in STORE_VARIABLES}


def run_child(command: list[str], cwd: Path) -> tuple[Sample, str]:
    """Run to completion: wall seconds, peak RSS (wait4) and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=child_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{text[-2000:]}{err.read().decode()[-2000:]}")
    return Sample(seconds, usage.ru_maxrss / 1024), text


def prepare(root: Path) -> tuple[Path, str, dict[str, tuple[list[str], list[str]]]]:
    """A trained project (v1, v2 both passed) and each command's two sides."""
    bin_dir = Path(sys.executable).parent
    conveyor = str(bin_dir / "conveyor")
    project = root / "churn"
    subprocess.run([conveyor, "init", str(project)], env=child_env(), check=True, capture_output=True)
    for _ in range(2):
        subprocess.run([conveyor, "train", "--project", str(project)], env=child_env(), check=True,
                       capture_output=True)
    uri = f"sqlite:///{(project / '.conveyor' / 'mlflow.db').as_posix()}"
    (root / "plain_models.py").write_text(PLAIN_MODELS, encoding="utf-8")
    (root / "plain_promote.py").write_text(PLAIN_PROMOTE, encoding="utf-8")
    sides = {
        "models": ([sys.executable, str(root / "plain_models.py"), uri],
                   [conveyor, "models", "--project", str(project)]),
        "promote": ([sys.executable, str(root / "plain_promote.py"), uri, "{version}", str(root / "audit.jsonl")],
                    [conveyor, "promote", "--to", "staging", "--version", "{version}", "--force",
                     "--reason", "benchmark", "--project", str(project)]),
        "help": ([str(bin_dir / "mlflow"), "--help"], [conveyor, "--help"]),
    }
    return project, uri, sides


def measure(sides: dict[str, tuple[list[str], list[str]]], cwd: Path, rounds: int) -> dict[str, dict[str, list[Sample]]]:
    """One untimed warm-up per side, then alternate which side goes first."""
    samples: dict[str, dict[str, list[Sample]]] = {c: {"anchor": [], "conveyor": []} for c in sides}
    for command, (anchor, conveyor) in sides.items():
        for side in (anchor, conveyor):
            run_child([a.replace("{version}", "1") for a in side], cwd)
    for number in range(rounds):
        version = str(2 - number % 2)  # 2, 1, 2, ...: the alias moves every round
        for command, (anchor, conveyor) in sides.items():
            order = [("anchor", anchor), ("conveyor", conveyor)]
            if number % 2:
                order.reverse()
            for name, side in order:
                sample, _ = run_child([a.replace("{version}", version) for a in side], cwd)
                samples[command][name].append(sample)
        print(f"  round {number + 1}/{rounds} done", file=sys.stderr)
    return samples


def agree(project: Path, uri: str) -> bool:
    """Both sides see the same versions and the alias the last promote set."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    listed = subprocess.run([str(Path(sys.executable).parent / "conveyor"), "models", "--json",
                             "--project", str(project)], env=child_env(), capture_output=True,
                            text=True, check=True)
    versions = [v["version"] for v in json.loads(listed.stdout)["versions"]]
    found = [str(mv.version) for mv in client.search_model_versions("name = 'churn'", order_by=["version_number DESC"])]
    return versions == found and "staging" in client.get_registered_model("churn").aliases


def median(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.seconds for s in samples), statistics.median(s.peak_rss_mb for s in samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 7)
    root = Path(tempfile.mkdtemp(prefix="conveyor-commands-"))
    try:
        project, uri, sides = prepare(root)
        samples = measure(sides, root, rounds)
        same = agree(project, uri)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = round(os.getloadavg()[0], 2)
    names = {"models": ("plain MlflowClient script", "conveyor models"),
             "promote": ("plain MlflowClient script", "conveyor promote --force"),
             "help": ("mlflow --help", "conveyor --help")}
    print(f"\ncommands: whole processes, {rounds} alternating rounds (medians); "
          f"{os.cpu_count()} CPUs, load average {load} at the end (shared machine)")
    print(f"{'command':<9}{'anchor':<28}{'s':>7}{'MB':>7}   {'conveyor':<26}{'s':>7}{'MB':>7}{'ratio':>8}")
    result: dict[str, Any] = {"benchmark": "commands", "size": {"rounds": rounds, "versions": 2},
                              "anchor": {}, "conveyor": {}, "ratios": {}, "sides_agree": same,
                              "machine": {"cpus": os.cpu_count(), "load_1m": load}}
    for command in sides:
        anchor, conveyor = median(samples[command]["anchor"]), median(samples[command]["conveyor"])
        ratio = conveyor.seconds / anchor.seconds
        print(f"{command:<9}{names[command][0]:<28}{anchor.seconds:>7.2f}{anchor.peak_rss_mb:>7.0f}   "
              f"{names[command][1]:<26}{conveyor.seconds:>7.2f}{conveyor.peak_rss_mb:>7.0f}{ratio:>8.2f}")
        result["anchor"][command] = {"name": names[command][0], "median_s": round(anchor.seconds, 3),
                                     "peak_rss_mb": round(anchor.peak_rss_mb, 1)}
        result["conveyor"][command] = {"name": names[command][1], "median_s": round(conveyor.seconds, 3),
                                       "peak_rss_mb": round(conveyor.peak_rss_mb, 1)}
        result["ratios"][command] = round(ratio, 3)
    print(f"target: models and promote <= {RATIO_TARGET}x the plain script; sides agree: {same}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
