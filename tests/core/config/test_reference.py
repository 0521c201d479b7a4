"""The checked-in config reference is the schema's: regenerated here, compared byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conveyor.core.config.reference import (
    REFERENCE_FILE,
    REGENERATE,
    render,
    sections,
    undocumented,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_checked_in_reference_matches_the_schema() -> None:
    checked_in = (ROOT / REFERENCE_FILE).read_text(encoding="utf-8")
    assert checked_in == render(), (
        f"{REFERENCE_FILE} is out of date with src/conveyor/core/config/schema.py; "
        f"regenerate it from the repository root: {REGENERATE} (or `make reference`) and commit it"
    )


def test_every_key_has_a_description() -> None:
    assert undocumented() == [], (
        "give these keys Field(description=...) in schema.py, then regenerate: " + REGENERATE
    )


def test_every_section_and_the_routing_header_are_there() -> None:
    paths = {section.path for section in sections()}
    for path in ("serve", "serve.limits", "serve.auth.tokens[]", "serve.deployments.NAME", "batch",
                 "batch.endpoint", "monitor", "monitor.drift", "runtime", "runtime.spark",
                 "environments.NAME", "gate.champion", "stream", "stream.capture"):
        assert path in paths, path
    text = render()
    assert "`sticky_header` | string | `\"X-Conveyor-Key\"`" in text
    assert "| `broker` | string or null |" in text  # read by `conveyor stream` now, not reserved
    assert "## `stream`" in text


def test_check_mode_fails_on_a_stale_file_and_says_how_to_regenerate(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("old\n")
    command = [sys.executable, "-m", "conveyor.core.config.reference", "--output", str(stale)]
    refused = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and REGENERATE in refused.stderr
    assert subprocess.run(command, capture_output=True, text=True, check=False).returncode == 0
    assert subprocess.run([*command, "--check"], capture_output=True, text=True, check=False).returncode == 0
    assert stale.read_text() == render()


def test_the_readme_sections_are_a_valid_config() -> None:
    """The serve/batch/monitor/runtime example of the README validates against the schema."""
    import yaml

    from conveyor.core.config.schema import ProjectConfig

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/config-reference.md" in readme and "X-Conveyor-Key" in readme
    block = readme.split("The sections\nfor using a model, with their main keys:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    sections = yaml.safe_load(block)
    assert set(sections) == {"serve", "batch", "monitor", "runtime"}
    ProjectConfig.model_validate({
        "name": "churn", "task": "classification", "target": "churned",
        "data": {"train": "data/train.parquet"}, "features": {"numeric": ["tenure_months"]},
        "train": {"entrypoint": "train.py:train"}, **sections,
    })
