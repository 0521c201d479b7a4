"""From nothing to a ready environment on a fresh worker: a cached environment pack vs
`pip install` of the same requirements into a new venv (what an executor does without packs)
vs MLflow's own environment restore (`mlflow models prepare-env`), in one run; then a
repeated `conveyor pack` of an unchanged environment, and the pack's size.

The churn example is trained in a temporary workspace (embedded store) and packed once
(the build is not timed here). Each side then starts from an empty folder and ends when its
Python imports conveyor (or the model's flavor, for MLflow's environment) and scikit-learn:

    pack    fetch_pack(uri) into a fresh cache: the object read once (hashed, inflated, untarred),
            the SHA-256 checked; then the import
    pip     python -m venv + pip install -r <the model's requirements.txt> <conveyor's wheel>
            (pip's own cache warm, as on an executor with a cache), then the import
    mlflow  mlflow models prepare-env --env-manager virtualenv (and uv), MLFLOW_ENV_ROOT fresh

    python benchmarks/pack.py [--quick] [--rounds N]
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEEDUP_TARGET = 10.0
REPACK_TARGET_S = 2.0
IMPORTS = "import conveyor, sklearn, mlflow.sklearn"


def _run(command: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    return time.perf_counter() - started, done


def _clean_env(**extra: str) -> dict[str, str]:
    from conveyor.packs import clean_environment

    return clean_environment(extra)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def pack_side(uri: str, work: Path) -> dict[str, Any]:
    from conveyor.packs import fetch_pack, pack_python

    cache = work / "pack-cache"
    started = time.perf_counter()
    folder = fetch_pack(uri, cache)
    unpack_s = time.perf_counter() - started
    import_s, done = _run([str(pack_python(folder)), "-c", IMPORTS], env=_clean_env(), cwd=work)
    ok = done.returncode == 0
    size = _folder_mb(folder)
    shutil.rmtree(cache, ignore_errors=True)
    return {"ok": ok, "fetch_unpack_s": round(unpack_s, 2), "first_import_s": round(import_s, 2),
            "total_s": round(unpack_s + import_s, 2), "unpacked_mb": round(size, 1),
            **({} if ok else {"error": done.stderr.strip().splitlines()[-1:]})}


def pip_side(requirements: Path, wheel: Path, work: Path) -> dict[str, Any]:
    venv = work / "pip-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    started = time.perf_counter()
    _, made = _run([base, "-m", "venv", str(venv)])
    _, installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
                         str(requirements), str(wheel)], env=_clean_env())
    install_s = time.perf_counter() - started
    import_s, done = _run([str(venv / "bin" / "python"), "-c", IMPORTS], env=_clean_env(), cwd=work)
    ok = made.returncode == 0 and installed.returncode == 0 and done.returncode == 0
    shutil.rmtree(venv, ignore_errors=True)
    return {"ok": ok, "install_s": round(install_s, 2), "first_import_s": round(import_s, 2),
            "total_s": round(install_s + import_s, 2),
            **({} if ok else {"error": (installed.stderr or done.stderr).strip().splitlines()[-2:]})}


def mlflow_side(manager: str, model_dir: Path, work: Path) -> dict[str, Any]:
    root = work / f"mlflow-envs-{manager}"
    started = time.perf_counter()
    _, done = _run([str(Path(sys.executable).parent / "mlflow"), "models", "prepare-env", "-m", str(model_dir),
                    "--env-manager", manager],
                    env=_clean_env(MLFLOW_ENV_ROOT=str(root),  # mlflow finds uv on PATH
                                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"))
    total = time.perf_counter() - started
    shutil.rmtree(root, ignore_errors=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return {"ok": False, "total_s": round(total, 2), "error": " | ".join(lines[-2:])[:300]}
    return {"ok": True, "total_s": round(total, 2)}


def repack_side(project: Any, folder: Path, rounds: int) -> dict[str, Any]:
    inner = []
    for _ in range(rounds):
        result = project.pack("churn", 1)
        assert not result.built, "a repeated pack must reuse the stored environment"
        inner.append(result.duration_s)
    conveyor = str(Path(sys.executable).parent / "conveyor")
    cli_s, done = _run([conveyor, "pack", "churn", "--version", "1", "--json", "--project", str(folder)])
    models_s, _ = _run([conveyor, "models", "churn", "--json", "--project", str(folder)])
    return {"in_process_s": round(statistics.median(inner), 3), "cli_s": round(cli_s, 2),
            "cli_ok": done.returncode == 0, "models_cli_s": round(models_s, 2)}


def _guarded(measure: Any) -> dict[str, Any]:
    """One side's figures; an exception is that side's failure, shown, not the run's end."""
    try:
        return dict(measure())
    except Exception as exc:  # noqa: BLE001 - any failure is reported as that side's
        return {"ok": False, "total_s": None, "error": f"{type(exc).__name__}: {exc}"[:300]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, no MLflow uv restore")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or 1
    import conveyor
    from conveyor.packs.uv import Uv
    from conveyor.scaffold import init_project

    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-pack-"))
    try:
        folder = init_project(work / "churn")
        project = conveyor.Project.load(folder)
        project.train()
        started = time.perf_counter()
        packed = project.pack("churn", 1)
        build_s = time.perf_counter() - started
        version = project.client.get_model_version("churn", "1")
        model_dir = Path(project.client.get_model_version_download_uri("churn", "1").removeprefix("file://"))
        if not model_dir.is_dir():
            import mlflow.artifacts

            model_dir = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=str(version.source), dst_path=str(work / "model"), tracking_uri=project.client.tracking_uri))
        requirements = model_dir / "requirements.txt"
        wheel_dir = work / "wheel"
        Uv.find().run(["build", "--wheel", "--quiet", "--out-dir", str(wheel_dir), str(REPO)], "building the wheel")
        wheel = next(wheel_dir.glob("conveyor-*.whl"))

        managers = ["virtualenv"] if args.quick else ["virtualenv", "uv"]
        sides: dict[str, list[dict[str, Any]]] = {"pack": [], "pip": [], **{f"mlflow_{m}": [] for m in managers}}
        print(f"built pack {packed.key[:12]} in {build_s:.1f}s; timing the sides", flush=True)
        for _ in range(rounds):  # alternating, so a noisy moment hits every side
            runs = [("pack", lambda: pack_side(packed.uri, work)),
                    ("pip", lambda: pip_side(requirements, wheel, work)),
                    *[(f"mlflow_{m}", lambda m=m: mlflow_side(m, model_dir, work)) for m in managers]]
            for side, measure in runs:
                sides[side].append(_guarded(measure))
                print(f"  {side}: {json.dumps(sides[side][-1])}", flush=True)
        repack = repack_side(project, folder, 3)

        def median(side: str) -> float | None:
            runs = [r["total_s"] for r in sides[side] if r["ok"]]
            return round(statistics.median(runs), 2) if runs else None

        pack_s, pip_s = median("pack"), median("pip")
        print(f"pack {packed.key[:12]}: {packed.size / 1e6:,.1f} MB tar.gz, "
              f"{sides['pack'][0].get('unpacked_mb', 0):,.1f} MB unpacked; first build {build_s:.1f}s")
        print(f"{'side':<22}{'ready in (median)':>20}   detail")
        for side, runs in sides.items():
            value = median(side)
            detail = runs[-1] if value is not None else {"error": runs[-1].get("error")}
            shown = "failed" if value is None else f"{value:.2f} s"
            print(f"{side:<22}{shown:>20}   {json.dumps(detail)}")
        print(f"repeated `conveyor pack` (unchanged environment): {repack['in_process_s']:.3f} s in process "
              f"(target < {REPACK_TARGET_S} s); the whole command {repack['cli_s']:.2f} s "
              f"(`conveyor models` as a process: {repack['models_cli_s']:.2f} s)")
        ratios: dict[str, float | None] = {
            "speedup": round(pip_s / pack_s, 2) if pack_s and pip_s else None,
        }
        for manager in managers:
            anchor = median(f"mlflow_{manager}")
            ratios[f"speedup_vs_mlflow_{manager}"] = round(anchor / pack_s, 2) if anchor and pack_s else None
        print(f"speedup (pip / pack): {ratios['speedup']} (target >= {SPEEDUP_TARGET})")
        result = {
            "benchmark": "pack", "size": {"pack_mb": round(packed.size / 1e6, 1),
                                         "unpacked_mb": sides["pack"][0].get("unpacked_mb"), "rounds": rounds},
            "anchor": {"pip_s": pip_s, **{f"mlflow_{m}_s": median(f"mlflow_{m}") for m in managers},
                       **{f"mlflow_{m}_error": sides[f"mlflow_{m}"][-1].get("error") for m in managers
                          if median(f"mlflow_{m}") is None}},
            "conveyor": {"pack_s": pack_s, "first_build_s": round(build_s, 1), "repack_s": repack["in_process_s"],
                         "repack_cli_s": repack["cli_s"], "models_cli_s": repack["models_cli_s"]},
            "ratios": ratios,
        }
        print("RESULT " + json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    main()
