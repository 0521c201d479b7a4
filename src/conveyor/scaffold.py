"""`conveyor init`: copy a template project and generate its data.

Templates (``--template``), each an example folder under :mod:`conveyor.examples` that trains
and passes its own gate as it is created:

    classification  churn     binary, generated customer data, fairness by gender
    multiclass      wine      three classes, scikit-learn's bundled wine data
    regression      diabetes  scikit-learn's bundled diabetes data
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from conveyor.core.config.schema import NAME_PATTERN
from conveyor.core.errors import UsageError
from conveyor.examples import example_path

TEMPLATES = {"classification": "churn", "multiclass": "wine", "regression": "diabetes"}
DEFAULT_TEMPLATE = "classification"
DEFAULT_EXAMPLE = TEMPLATES[DEFAULT_TEMPLATE]
DATA_FILE = Path("data/train.parquet")


def init_project(target: Path, name: str | None = None, template: str = DEFAULT_TEMPLATE) -> Path:
    """Create a working project at `target` from a template; refuses to overwrite a
    non-empty folder (UsageError, nothing written)."""
    if template not in TEMPLATES:
        raise UsageError(
            f"unknown template {template!r}",
            hint=f"pick one of {', '.join(TEMPLATES)} (--template)",
        )
    source = example_path(TEMPLATES[template])
    if name is not None:
        _check_name(name)
    if target.exists() and any(target.iterdir()):
        raise UsageError(
            f"{target} already exists and is not empty",
            hint="pick a new folder name; nothing was changed",
        )
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__", "data"))
        if name is not None:
            _rename_model(staging / "conveyor.yaml", name)
        generate_example_data(staging)
        (staging / ".gitignore").write_text(".conveyor/\ndata/\n__pycache__/\n")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def generate_example_data(project: Path, rows: int = 5000, seed: int = 7, drift: float = 0.0,
                          out: Path = DATA_FILE) -> Path:
    """Run the project's generate_data.py `write` function."""
    script = project / "generate_data.py"
    spec = importlib.util.spec_from_file_location("conveyor_example_generate_data", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.write(project / out, rows=rows, seed=seed, drift=drift))


def _check_name(name: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise UsageError(
            f"model name {name!r} is not valid",
            hint="start with a letter; use letters, digits, '_', '-' or '.'",
        )


def _rename_model(config: Path, name: str) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1), encoding="utf-8")
