"""`conveyor init`: copy an example project and generate its data."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from conveyor.core.config.schema import NAME_PATTERN
from conveyor.core.errors import ConveyorError
from conveyor.examples import example_path

DEFAULT_EXAMPLE = "churn"
DATA_FILE = Path("data/train.parquet")


def init_project(target: Path, name: str | None = None, example: str = DEFAULT_EXAMPLE) -> Path:
    """Create a working project at `target`; refuses to overwrite a non-empty folder."""
    source = example_path(example)
    if not source.is_dir():
        raise ConveyorError(f"unknown example {example!r}")
    if target.exists() and any(target.iterdir()):
        raise ConveyorError(
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


def _rename_model(config: Path, name: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise ConveyorError(
            f"model name {name!r} is not valid",
            hint="start with a letter; use letters, digits, '_', '-' or '.'",
        )
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1), encoding="utf-8")
