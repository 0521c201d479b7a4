"""Example projects that `conveyor init` copies and `conveyor demo` runs."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent


def example_path(name: str) -> Path:
    return EXAMPLES_DIR / name
