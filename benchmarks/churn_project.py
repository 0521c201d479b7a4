"""The churn example, trained and promoted once under a benchmark's cache folder, with a
generated input of its own (shared by the benchmarks that run real commands on it)."""

from __future__ import annotations

from pathlib import Path


def promoted_churn(project_dir: Path, data: Path, rows: int, seed: int, drift: float = 0.0) -> Path:
    """``project_dir`` holding the churn example with v1 in prod, and ``rows`` generated rows
    at ``data`` (relative to the project); both made only when missing. The data's path."""
    import conveyor
    from conveyor.scaffold import generate_example_data, init_project

    if not (project_dir / ".conveyor").exists():
        if not project_dir.exists():
            init_project(project_dir)
        project = conveyor.Project.load(project_dir)
        project.train()
        project.promote("staging")
        project.promote("prod")
    if not (project_dir / data).exists():
        generate_example_data(project_dir, rows=rows, seed=seed, drift=drift, out=data)
    return project_dir / data


def bytecode_warning() -> str | None:
    """A line to print when MLflow's modules have no compiled bytecode in this environment
    (``uv pip install`` without ``--compile-bytecode``, with PYTHONDONTWRITEBYTECODE set):
    every whole command then compiles MLflow from source first (tens of seconds on a loaded
    machine), which a ``pip install`` never leaves a user to do."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:
        return None
    cached = Path(spec.origin).parent / "__pycache__"
    if cached.is_dir() and any(cached.glob("__init__.*.pyc")):
        return None
    return ("warning: MLflow has no compiled bytecode here, so every command compiles it from source first; "
            "run `python -m compileall -q -j 0 <venv>/lib` (pip compiles on install; uv needs --compile-bytecode)")
