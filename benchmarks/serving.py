"""Serving throughput, tail latency and memory: `conveyor serve` next to MLServer 1.7.1 +
mlserver-sklearn (adaptive batching on and off), BentoML 1.4.40, `mlflow models serve` and a
bare Starlette app returning a constant (the ceiling of the HTTP stack), same model, same
load generator (wrk), 2 worker processes each, access logs off everywhere.

    python benchmarks/serving.py            # 10 s per point, 3 rounds, concurrency 1/64/256
    python benchmarks/serving.py --quick    # 2 s per point, 1 round

Two parts, each with its own servers:
- the example model (a scikit-learn pipeline conveyor serves as an inference plan): every
  server above; conveyor on both of its protocols (MLflow scoring, Open Inference v2);
- models the plan does not cover (HistGradientBoostingClassifier, RandomForestClassifier
  pipelines on the example data): conveyor (v2) against MLServer with adaptive batching.

Servers of a part are measured in alternation at each point, so a noisy moment on a shared
machine hits all of them; medians over rounds are reported. Before any load, the same rows
are sent to every server and the predictions compared. Memory: the sum of VmHWM over each
server's process tree. MLServer and BentoML run from venvs of their own, built on first use
under ~/.cache/conveyor-bench/serving/venvs (minutes; PyPI must be reachable then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_rivals import BENTOML, MLSERVER, bentoml_folder, ensure_venv, mlserver_folder, v2_body

CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path.home() / ".cache" / "conveyor-bench")) / "serving"
VENV_BIN = Path(sys.executable).parent
CONCURRENCY = (1, 64, 256)
WORKERS = 2
CHECK_ROWS = 25  # rows sent to every server before the load, predictions compared
RECORD = {
    "tenure_months": 8.0, "monthly_charges": 68.07, "total_charges": 566.28, "support_calls": 1.0,
    "plan": "standard", "region": "south", "payment_method": "card",
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BARE_APP = '''
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"predictions": [0], "scores": [0.1], "deployment": "prod", "version": "1", "request_id": "0"}'

async def invocations(request):
    await request.body()
    return Response(BODY, media_type="application/json")

app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"])])
'''
TREE_TRAIN = '''
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder


def train(X, y, params: dict[str, Any]) -> Pipeline:
    numeric = X.select_dtypes("number").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric]
    features = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical),
    ])
    if params["model"] == "hgb":
        head = HistGradientBoostingClassifier(max_iter=100, random_state=0)
    else:
        head = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0, n_jobs=1)
    return Pipeline([("features", features), ("classifier", head)]).fit(X, y)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (MLServer takes http, grpc, metrics)."""
    for _ in range(100):
        base = free_port()
        try:
            for offset in range(count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


# --- the models ---------------------------------------------------------------------------


@dataclass
class Model:
    """One trained, promoted project and its fitted pipeline as a joblib file."""

    kind: str
    project: Path
    model_dir: str  # the MLflow model folder (`mlflow models serve`)
    joblib: Path  # the fitted pipeline (MLServer, BentoML)
    rows: list[dict[str, Any]] = field(default_factory=list)  # rows every server must agree on


def prepare_model(kind: str) -> Model:
    """The example project (kind "plan") or a copy training a tree ensemble ("hgb", "rf"),
    trained and promoted once and cached."""
    folder = CACHE / f"project-{kind}"
    marker = folder.parent / f"project-{kind}.json"
    if not marker.exists():
        marker.write_text(json.dumps(_train(kind, folder)))
    saved = json.loads(marker.read_text())
    return Model(kind, folder, saved["model_dir"], Path(saved["joblib"]), _rows(folder))


def without_capture(model: Model) -> Model:
    """The same trained project with request capture off (`serve.capture.sample: 0`): the
    rivals capture nothing, so this is the like-for-like side; the default (10 %) runs too."""
    import yaml

    folder = model.project.with_name(model.project.name + "-nocapture")
    if not folder.exists():
        shutil.copytree(model.project, folder, ignore=shutil.ignore_patterns("captures", "serving"))
        config = yaml.safe_load((folder / "conveyor.yaml").read_text())
        config["serve"] = {**config.get("serve", {}), "capture": {"sample": 0}}
        (folder / "conveyor.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Model(model.kind, folder, model.model_dir, model.joblib, model.rows)


def _train(kind: str, folder: Path) -> dict[str, str]:
    import joblib
    import mlflow
    import yaml

    from conveyor.app import Project
    from conveyor.scaffold import init_project

    shutil.rmtree(folder, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    init_project(folder)
    if kind != "plan":
        (folder / "train.py").write_text(TREE_TRAIN)
        config = yaml.safe_load((folder / "conveyor.yaml").read_text())
        config["train"]["params"] = {"model": kind}
        config["gate"] = {"metrics": {"roc_auc": ">= 0.5"}}  # a benchmark model, not a release
        (folder / "conveyor.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    project = Project.load(folder)
    result = project.train()
    project.promote("staging")
    project.promote("prod")
    source = project.client.get_model_version_download_uri(project.name, result.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(CACHE / f"model-{kind}"))
    pipeline = mlflow.sklearn.load_model(local)
    target = CACHE / f"model-{kind}.joblib"
    joblib.dump(pipeline, target)
    return {"model_dir": local, "joblib": str(target)}


def _rows(folder: Path) -> list[dict[str, Any]]:
    import pandas as pd

    frame = pd.read_parquet(folder / "data" / "train.parquet").head(CHECK_ROWS)
    names = list(RECORD)
    frame = frame[names].dropna()
    return [{k: (float(v) if isinstance(RECORD[k], float) else str(v)) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


# --- the servers --------------------------------------------------------------------------


@dataclass
class Target:
    """One URL of a server under load: its body and how to read its labels back."""

    label: str
    server: Server
    path: str
    body: dict[str, Any]
    kind: str  # "mlflow" | "v2" | "bento" | "bare": how labels are read

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{self.path}"

    def labels(self, rows: list[dict[str, Any]]) -> list[int] | None:
        if self.kind == "bare":
            return None
        body = _body(self.kind, rows)
        answer = _post(self.url, body)
        if self.kind == "mlflow":
            return [int(v) for v in answer["predictions"]]
        if self.kind == "bento":
            return [int(v) for v in answer]
        output = next(o for o in answer["outputs"] if o["name"] == "predict")
        return [int(v) for v in output["data"]]


def _body(kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    if kind == "mlflow" or kind == "bare":
        return {"dataframe_records": rows}
    if kind == "bento":
        return {"records": rows}
    return v2_body(rows, pandas=kind == "v2-pd")


def _post(url: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


class Server:
    def __init__(self, name: str, command: list[str], port: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.port = port
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name)
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{slug}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD, **(env or {})},
            start_new_session=True, cwd=cwd,
        )

    def wait_ready(self, target: Target, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                _post(target.url, target.body, timeout=5)
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; see {self.log.name}")

    def peak_memory_mb(self) -> float:
        total = 0
        for pid in _tree(self.process.pid):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", text)
            if match:
                total += int(match.group(1))
        return total / 1024

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except Exception:  # noqa: BLE001
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def start_conveyor(model: Model, label: str) -> list[Target]:
    port = free_port()
    server = Server(label, [str(VENV_BIN / "conveyor"), "serve", "--project", str(model.project),
                            "--workers", str(WORKERS), "--port", str(port)], port)
    record = {"dataframe_records": [RECORD]}
    return [Target(f"{label} (MLflow)", server, "/models/churn/invocations", record, "mlflow"),
            Target(f"{label} (v2)", server, "/v2/models/churn/infer", v2_body([RECORD], pandas=False), "v2")]


def start_mlserver(model: Model, label: str, bin_dir: Path, work: Path, batching: bool) -> Target:
    port = free_ports(3)
    folder = mlserver_folder(work / re.sub(r"[^A-Za-z0-9]+", "-", label), "churn", model.joblib, port, batching, WORKERS)
    server = Server(label, [str(bin_dir / "mlserver"), "start", str(folder)], port,
                    env={"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    return Target(label, server, "/v2/models/churn/infer", v2_body([RECORD], pandas=True), "v2-pd")


def start_bentoml(model: Model, bin_dir: Path, work: Path) -> Target:
    port = free_port()
    folder = bentoml_folder(work / "bentoml", WORKERS)
    server = Server("bentoml", [str(bin_dir / "bentoml"), "serve", "service:Churn", "--port", str(port),
                                "--host", "127.0.0.1"], port,
                    env={"BENCH_MODEL": str(model.joblib), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
                    cwd=folder)
    return Target("bentoml", server, "/predict", {"records": [RECORD]}, "bento")


def start_mlflow(model: Model) -> Target:
    port = free_port()
    server = Server("mlflow", [str(VENV_BIN / "mlflow"), "models", "serve", "-m", model.model_dir, "--env-manager",
                               "local", "-w", str(WORKERS), "-h", "127.0.0.1", "-p", str(port)], port,
                    env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    return Target("mlflow models serve", server, "/invocations", {"dataframe_records": [RECORD]}, "mlflow")


def start_bare(work: Path) -> Target:
    port = free_port()
    (work / "bare_app.py").write_text(BARE_APP)
    server = Server("bare", [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(work), "--workers",
                             str(WORKERS), "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                             "--no-access-log", "--log-level", "warning"], port)
    return Target("bare Starlette (ceiling)", server, "/invocations", {"dataframe_records": [RECORD]}, "bare")


# --- the load -----------------------------------------------------------------------------


def wrk(target: Target, concurrency: int, seconds: int, work: Path) -> dict[str, float]:
    script = work / f"post-{abs(hash(target.label))}.lua"
    if not script.exists():
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(target.body))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        ["wrk", "-t", str(min(concurrency, 2)), "-c", str(concurrency), "-d", f"{seconds}s", "--latency",
         "--timeout", "10s", "-s", str(script), target.url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = {m.group(1): _ms(m.group(2), m.group(3)) for m in re.finditer(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out)}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0, "p50_ms": lat.get("50", float("nan")),
        "p99_ms": lat.get("99", float("nan")), "non_2xx": float(errors.group(1)) if errors else 0.0,
        "timeouts": float(timeouts.group(1)) if timeouts else 0.0,
    }


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(targets: list[Target], seconds: int, rounds: int, work: Path) -> dict[str, dict[str, float]]:
    runs: dict[str, dict[int, list[dict[str, float]]]] = {t.label: {c: [] for c in CONCURRENCY} for t in targets}
    for round_ in range(rounds):
        for concurrency in CONCURRENCY:
            for target in targets:  # alternate: a noisy moment hits every server
                wrk(target, concurrency, 1, work)  # open the connections, warm the server
                runs[target.label][concurrency].append(wrk(target, concurrency, seconds, work))
        print(f"  round {round_ + 1}/{rounds} done", file=sys.stderr)
    summary: dict[str, dict[str, float]] = {}
    for label, by_concurrency in runs.items():
        point = summary.setdefault(label, {})
        for concurrency, samples in by_concurrency.items():
            for key in ("rps", "p50_ms", "p99_ms", "non_2xx", "timeouts"):
                point[f"{key}_c{concurrency}"] = round(statistics.median(s[key] for s in samples), 2)
    return summary


def agree(targets: list[Target], rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Every server's labels for the same rows, against the first server's."""
    answers = {t.label: t.labels(rows) for t in targets}
    reference = next(a for a in answers.values() if a is not None)
    return {label: answer == reference for label, answer in answers.items() if answer is not None}


def run_part(title: str, starters: dict[str, Any], rows: list[dict[str, Any]], seconds: int, rounds: int,
             work: Path) -> tuple[dict[str, dict[str, float]], dict[str, str], dict[str, bool]]:
    """Start every server of a part, check they agree, load them in alternation, stop them."""
    print(f"\n{title}", file=sys.stderr)
    targets: list[Target] = []
    unavailable: dict[str, str] = {}
    for label, start in starters.items():
        try:
            started = start()
        except Exception as exc:  # noqa: BLE001 - a rival that cannot be installed is reported
            unavailable[label] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        targets.extend(started if isinstance(started, list) else [started])
    servers = {id(t.server): t.server for t in targets}
    try:
        for target in list(targets):
            try:
                target.server.wait_ready(target)
            except RuntimeError as exc:
                unavailable[target.label] = str(exc)
                targets.remove(target)
        agreement = agree(targets, rows)
        summary = measure(targets, seconds, rounds, work)
        for target in targets:
            summary[target.label]["peak_memory_mb"] = round(target.server.peak_memory_mb(), 1)
    finally:
        for server in servers.values():
            server.stop()
    return summary, unavailable, agreement


def print_table(title: str, summary: dict[str, dict[str, float]], unavailable: dict[str, str],
                agreement: dict[str, bool]) -> None:
    print(f"\n{title}")
    print(f"{'server':<34}{'conc':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'RSS MB':>8}{'agree':>7}")
    for label, point in summary.items():
        for concurrency in CONCURRENCY:
            memory = f"{point['peak_memory_mb']:.0f}" if concurrency == CONCURRENCY[0] else ""
            same = ("yes" if agreement.get(label, True) else "NO") if concurrency == CONCURRENCY[0] else ""
            print(f"{label:<34}{concurrency:>6}{point[f'rps_c{concurrency}']:>10.0f}{point[f'p50_ms_c{concurrency}']:>9.2f}"
                  f"{point[f'p99_ms_c{concurrency}']:>9.2f}{point[f'non_2xx_c{concurrency}']:>9.0f}{memory:>8}{same:>7}")
    for label, why in unavailable.items():
        print(f"{label:<34}  not run: {why}")


def _ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return None if not a or not b else round(a / b, digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 s per point, 1 round")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--only", choices=("plan", "trees"), default=None, help="run one part only")
    args = parser.parse_args()
    seconds = args.seconds or (2 if args.quick else 10)
    rounds = args.rounds or (1 if args.quick else 3)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk); cannot run", file=sys.stderr)
        print("RESULT " + json.dumps({"benchmark": "serving", "error": "wrk not installed"}))
        sys.exit(1)
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    venvs = CACHE / "venvs"
    bins: dict[str, Path] = {}
    failed: dict[str, str] = {}
    for name, requirements in (("mlserver", MLSERVER), ("bentoml", BENTOML)):
        try:
            bins[name] = ensure_venv(venvs / name, requirements)
        except (subprocess.CalledProcessError, OSError) as exc:
            failed[name] = f"could not build its venv: {exc}"

    def rival(name: str) -> Path:
        if name in failed:
            raise RuntimeError(failed[name])
        return bins[name]

    results: dict[str, Any] = {}
    not_run: dict[str, str] = {}
    tables: list[tuple[str, dict[str, dict[str, float]], dict[str, str], dict[str, bool]]] = []
    if args.only in (None, "plan"):
        model = prepare_model("plan")
        quiet = without_capture(model)
        starters = {
            "bare": lambda: start_bare(work),
            "conveyor": lambda: start_conveyor(quiet, "conveyor"),
            "conveyor capture": lambda: start_conveyor(model, "conveyor, capture 10%")[0],
            "mlserver adaptive": lambda: start_mlserver(model, "MLServer adaptive 32/1ms", rival("mlserver"), work, True),
            "mlserver": lambda: start_mlserver(model, "MLServer no batching", rival("mlserver"), work, False),
            "bentoml": lambda: start_bentoml(model, rival("bentoml"), work),
            "mlflow": lambda: start_mlflow(model),
        }
        title = "example model (conveyor: inference plan; the others: the scikit-learn pipeline)"
        summary, unavailable, agreement = run_part(title, starters, model.rows, seconds, rounds, work)
        tables.append((title, summary, unavailable, agreement))
        results["plan"] = summary
        not_run.update(unavailable)
        results["agree_plan"] = agreement
    if args.only in (None, "trees"):
        for kind, name in (("hgb", "HistGradientBoosting"), ("rf", "RandomForest")):
            model = without_capture(prepare_model(kind))
            starters = {
                "conveyor": lambda m=model, n=name: start_conveyor(m, f"conveyor {n}")[1],  # v2, as MLServer
                "mlserver": lambda m=model, n=name: start_mlserver(m, f"MLServer adaptive {n}", rival("mlserver"), work, True),
            }
            title = f"{name} pipeline (no plan: both call scikit-learn)"
            summary, unavailable, agreement = run_part(title, starters, model.rows, seconds, rounds, work)
            tables.append((title, summary, unavailable, agreement))
            results[kind] = summary
            not_run.update(unavailable)
            results[f"agree_{kind}"] = agreement

    print(f"\nserving benchmark: 1-row requests, {WORKERS} workers per server, wrk {seconds}s x {rounds} round(s), "
          f"medians; CPU cores: {os.cpu_count()}; load average at the end: {os.getloadavg()[0]:.1f}")
    for table in tables:
        print_table(*table)
    ratios = ratios_of(results)
    print("\nratios:")
    for key, value in ratios.items():
        print(f"  {key:<28}{value}")
    print("targets: ceiling_share >= 0.8, memory_vs_mlserver <= 0.5, vs_mlserver_trees >= 1.5, p99 256/64 <= 2")
    agreed = all(all(v.values()) for k, v in results.items() if k.startswith("agree_"))
    print(f"predictions equal across servers: {'yes' if agreed else 'NO'}")
    result = {
        "benchmark": "serving",
        "size": {"seconds": seconds, "rounds": rounds, "concurrency": list(CONCURRENCY), "workers": WORKERS,
                 "rows_per_request": 1},
        "anchor": results.get("plan", {}).get("MLServer adaptive 32/1ms", {"error": not_run.get("MLServer adaptive 32/1ms")}),
        "conveyor": results.get("plan", {}).get("conveyor (v2)", {"error": not_run.get("conveyor")}),
        "servers": results,
        "predictions_equal": agreed,
        "ratios": ratios,
        "load_average": os.getloadavg()[0],
    }
    if not_run:
        result["not_run"] = not_run
    print("RESULT " + json.dumps(result))


def ratios_of(results: dict[str, Any]) -> dict[str, float | None]:
    plan = results.get("plan", {})

    def rps(part: dict[str, Any], label: str, c: int = 64) -> float | None:
        return part.get(label, {}).get(f"rps_c{c}")

    def p99(part: dict[str, Any], label: str, c: int) -> float | None:
        return part.get(label, {}).get(f"p99_ms_c{c}")

    ours_mlflow, ours_v2 = "conveyor (MLflow)", "conveyor (v2)"
    ratios: dict[str, float | None] = {
        "vs_mlserver": _ratio(rps(plan, ours_v2), rps(plan, "MLServer adaptive 32/1ms"), 2),
        "vs_mlserver_no_batching": _ratio(rps(plan, ours_v2), rps(plan, "MLServer no batching"), 2),
        "vs_bentoml": _ratio(rps(plan, ours_mlflow), rps(plan, "bentoml"), 2),
        "vs_mlflow": _ratio(rps(plan, ours_mlflow), rps(plan, "mlflow models serve"), 2),
        "ceiling_share": _ratio(rps(plan, ours_mlflow), rps(plan, "bare Starlette (ceiling)")),
        "ceiling_share_v2": _ratio(rps(plan, ours_v2), rps(plan, "bare Starlette (ceiling)")),
        "ceiling_share_c1": _ratio(rps(plan, ours_mlflow, 1), rps(plan, "bare Starlette (ceiling)", 1)),
        "p99_256_over_64_mlflow": _ratio(p99(plan, ours_mlflow, 256), p99(plan, ours_mlflow, 64), 2),
        "p99_256_over_64_v2": _ratio(p99(plan, ours_v2, 256), p99(plan, ours_v2, 64), 2),
        "memory_vs_mlserver": _ratio(plan.get(ours_v2, {}).get("peak_memory_mb"),
                                     plan.get("MLServer adaptive 32/1ms", {}).get("peak_memory_mb")),
    }
    trees = []
    for kind, name in (("hgb", "HistGradientBoosting"), ("rf", "RandomForest")):
        part = results.get(kind, {})
        ratio = _ratio(rps(part, f"conveyor {name} (v2)"), rps(part, f"MLServer adaptive {name}"), 2)
        ratios[f"vs_mlserver_{kind}"] = ratio
        ratios[f"p99_vs_mlserver_{kind}"] = _ratio(p99(part, f"conveyor {name} (v2)", 64),
                                                   p99(part, f"MLServer adaptive {name}", 64), 3)
        if ratio is not None:
            trees.append(ratio)
    ratios["vs_mlserver_trees"] = min(trees) if trees else None
    return ratios


if __name__ == "__main__":
    main()
