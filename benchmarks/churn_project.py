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
