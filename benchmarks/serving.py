"""Serving throughput and tail latency: `mlflow models serve` vs `conveyor serve` vs a bare
Starlette app returning a constant (the ceiling), same model, same load generator (wrk).

    python benchmarks/serving.py            # 10 s per point, 3 rounds, concurrency 1/16/64
    python benchmarks/serving.py --quick    # 3 s per point, 1 round

The three servers run with 2 worker processes each and are measured in alternation, so a
noisy moment on a shared machine hits all of them; medians over rounds are reported.
Peak memory is the sum of VmHWM over each server's process tree.
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
from pathlib import Path

CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path.home() / ".cache" / "conveyor-bench")) / "serving"
VENV_BIN = Path(sys.executable).parent
CONCURRENCY = (1, 16, 64)
WORKERS = 2
RECORD = {
    "tenure_months": 8.0, "monthly_charges": 68.07, "total_charges": 566.28, "support_calls": 1.0,
    "plan": "standard", "region": "south", "payment_method": "card",
}
BARE_APP = '''
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"predictions": [0]}'

async def invocations(request):
    await request.body()
    return Response(BODY, media_type="application/json")

app = Starlette(routes=[Route("/invocations", invocations, methods=["POST"]), Route("/ping", lambda r: Response(b"ok"))])
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_project() -> tuple[Path, str]:
    """The example project, trained once and cached; returns (project, local model dir)."""
    from conveyor.app import Project
    from conveyor.scaffold import init_project

    folder = CACHE / "churn"
    marker = CACHE / "model_dir.txt"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        init_project(folder)
        project = Project.load(folder)
        result = project.train()
        project.promote("staging")
        project.promote("prod")
        import mlflow

        source = project.client.get_model_version_download_uri(project.name, result.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(CACHE / "model"))
        marker.write_text(local)
    return folder, marker.read_text().strip()


class Server:
    def __init__(self, name: str, command: list[str], port: int, path: str, health: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.port = port
        self.path = path
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.health = health

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        body = json.dumps({"dataframe_records": [RECORD]}).encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            try:
                request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log.name}")

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


def require_wrk(benchmark: str) -> None:
    """Exit 1 with a RESULT line saying so when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk); cannot run", file=sys.stderr)
        print("RESULT " + json.dumps({"benchmark": benchmark, "error": "wrk not installed"}))
        sys.exit(1)


def wrk(url: str, concurrency: int, seconds: int, script: Path) -> dict[str, float]:
    threads = min(concurrency, 2)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "--latency", "--timeout", "10s",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {m.group(1): _ms(m.group(2), m.group(3)) for m in re.finditer(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out)}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps, "p50_ms": lat.get("50", float("nan")), "p99_ms": lat.get("99", float("nan")),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per point, 1 round")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    rounds = args.rounds or (1 if args.quick else 3)
    require_wrk("serving")

    project, model_dir = prepare_project()
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps({'dataframe_records': [RECORD]}))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    (work / "bare_app.py").write_text(BARE_APP)
    env_one = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    ports = {name: free_port() for name in ("mlflow", "conveyor", "bare")}
    unavailable: dict[str, str] = {}
    servers: dict[str, Server] = {}
    specs = {
        "mlflow": ([str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_dir, "--env-manager", "local",
                    "-w", str(WORKERS), "-h", "127.0.0.1", "-p", str(ports["mlflow"])], "/invocations",
                   {**env_one, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}),
        "conveyor": ([str(VENV_BIN / "conveyor"), "serve", "--project", str(project), "--workers", str(WORKERS),
                      "--port", str(ports["conveyor"])], "/models/churn/invocations", None),
        "bare": ([sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(work), "--workers", str(WORKERS),
                  "--port", str(ports["bare"]), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                  "--log-level", "warning"], "/invocations", None),
    }
    try:
        for name, (command, path, env) in specs.items():
            servers[name] = Server(name, command, ports[name], path, path, env)
        for name, server in list(servers.items()):
            try:
                server.wait_ready()
            except RuntimeError as exc:
                unavailable[name] = str(exc)
                server.stop()
                del servers[name]
        results: dict[str, dict[int, list[dict[str, float]]]] = {n: {c: [] for c in CONCURRENCY} for n in servers}
        for round_ in range(rounds):
            for concurrency in CONCURRENCY:
                for name, server in servers.items():  # alternate: a noisy moment hits all three
                    wrk(server.url, concurrency, 1, script)  # warm the connections
                    results[name][concurrency].append(wrk(server.url, concurrency, seconds, script))
            print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)
        memory = {name: server.peak_memory_mb() for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()

    summary: dict[str, dict[str, float]] = {}
    print(f"\nserving benchmark: churn example model, 1-row requests, {WORKERS} workers per server, "
          f"wrk {seconds}s x {rounds} round(s), medians; CPU cores: {os.cpu_count()} (shared machine)\n")
    print(f"{'server':<10}{'conc':>6}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name in ("mlflow", "conveyor", "bare"):
        if name not in results:
            print(f"{name:<10}  not run: {unavailable.get(name, '?')}")
            continue
        for concurrency in CONCURRENCY:
            runs = results[name][concurrency]
            point = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms", "non_2xx")}
            summary.setdefault(name, {}).update({f"{k}_c{concurrency}": round(v, 2) for k, v in point.items()})
            print(f"{name:<10}{concurrency:>6}{point['rps']:>10.0f}{point['p50_ms']:>10.2f}{point['p99_ms']:>10.2f}"
                  f"{point['non_2xx']:>10.0f}")
        summary[name]["peak_memory_mb"] = round(memory[name], 1)
    print()
    for name in summary:
        print(f"{name:<10} peak memory (all processes): {summary[name]['peak_memory_mb']:.0f} MB")
    ratios: dict[str, float] = {}
    if "mlflow" in summary and "conveyor" in summary:
        a, b = summary["mlflow"], summary["conveyor"]
        for c in CONCURRENCY:
            ratios[f"throughput_c{c}"] = round(b[f"rps_c{c}"] / a[f"rps_c{c}"], 2)
            ratios[f"p99_c{c}"] = round(b[f"p99_ms_c{c}"] / a[f"p99_ms_c{c}"], 3)
        ratios["throughput"] = ratios["throughput_c64"]
        ratios["p99"] = ratios["p99_c64"]
        ratios["memory"] = round(b["peak_memory_mb"] / a["peak_memory_mb"], 2)
    if "bare" in summary and "conveyor" in summary:
        ratios["ceiling_share"] = round(summary["conveyor"]["rps_c64"] / summary["bare"]["rps_c64"], 3)
    print("\nratios (conveyor / mlflow; ceiling_share = conveyor / bare at concurrency 64):")
    for key, value in ratios.items():
        print(f"  {key:<18}{value}")
    print("targets: throughput >= 15, p99 <= 0.2, ceiling_share >= 0.5")
    result = {
        "benchmark": "serving",
        "size": {"seconds": seconds, "rounds": rounds, "concurrency": list(CONCURRENCY), "workers": WORKERS, "rows_per_request": 1},
        "anchor": summary.get("mlflow", {"error": unavailable.get("mlflow")}),
        "conveyor": summary.get("conveyor", {"error": unavailable.get("conveyor")}),
        "ceiling": summary.get("bare", {"error": unavailable.get("bare")}),
        "ratios": ratios,
    }
    if unavailable:
        result["not_run"] = unavailable
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
