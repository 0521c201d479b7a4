"""Schedules in conveyor.yaml: 5-field cron strings and time zones, refused at load with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core.config import load_config
from conveyor.core.config.cron import check_cron, check_timezone
from conveyor.core.errors import ConfigError

BASE = """\
name: churn
task: classification
target: churned
data:
  train: data/train.parquet
features:
  numeric: [a, b]
train:
  entrypoint: train.py:train
  schedule: "{train}"
batch:
  input: in/
  output: out/
  schedule: "0 2 * * *"
monitor:
  data: current/
  schedule: "0 * * * *"
scheduler:
  timezone: {zone}
"""


def error_for(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "conveyor.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return caught.value


def test_every_pipeline_takes_a_schedule_and_the_scheduler_a_time_zone(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text(BASE.format(train="30  3 * * 0", zone="Europe/Berlin"))
    config = load_config(tmp_path).config
    assert config.train.schedule == "30 3 * * 0"  # normalised
    assert config.batch is not None and config.batch.schedule == "0 2 * * *"
    assert config.monitor.schedule == "0 * * * *"
    assert config.scheduler.timezone == "Europe/Berlin"
    assert (config.scheduler.catch_up, config.scheduler.retries) == ("latest", 2)


@pytest.mark.parametrize(("cron", "expected"), [
    ("61 * * * *", "not valid"),
    ("* * *", "has 3 field(s); a schedule has 5"),
    ("0 0 0 * * *", "has 6 field(s)"),
    ("@daily", "has 1 field(s)"),
    ("0 2 * * funday", "not valid"),
])
def test_an_invalid_cron_is_a_load_error_with_its_line(tmp_path: Path, cron: str, expected: str) -> None:
    error = error_for(tmp_path, BASE.format(train=cron, zone="UTC"))
    assert (error.field, error.line, error.exit_code) == ("train.schedule", 10, 2)
    assert expected in error.message
    assert error.message.startswith(f"{tmp_path / 'conveyor.yaml'}:10 [train.schedule]: ")


def test_an_unknown_time_zone_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, BASE.format(train="0 3 * * *", zone="Mars/Olympus"))
    assert (error.field, error.line) == ("scheduler.timezone", 19)
    assert "unknown time zone 'Mars/Olympus'" in error.message


def test_unknown_scheduler_settings_are_refused(tmp_path: Path) -> None:
    error = error_for(tmp_path, BASE.format(train="0 3 * * *", zone="UTC") + "  catchup: all\n")
    assert (error.field, error.line) == ("scheduler.catchup", 20)


def test_a_scheduled_batch_needs_its_input_and_output(tmp_path: Path) -> None:
    text = BASE.format(train="0 3 * * *", zone="UTC").replace("  output: out/\n", "")
    error = error_for(tmp_path, text)
    assert error.field == "batch" and error.line == 11
    assert "batch.schedule needs batch.input and batch.output" in error.message


def test_a_scheduled_monitor_needs_data_or_a_window(tmp_path: Path) -> None:
    text = BASE.format(train="0 3 * * *", zone="UTC").replace("  data: current/\n", "")
    error = error_for(tmp_path, text)
    assert error.field == "monitor"
    assert "monitor.schedule needs monitor.data" in error.message


def test_the_batch_stage_must_be_a_stage(tmp_path: Path) -> None:
    text = BASE.format(train="0 3 * * *", zone="UTC").replace("  output: out/\n", "  output: out/\n  stage: live\n")
    error = error_for(tmp_path, text)
    assert "batch.stage 'live' is not one of stages" in error.message


def test_the_checks_alone() -> None:
    assert check_cron(" */15  * * * 1-5 ") == "*/15 * * * 1-5"
    assert check_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match="unknown time zone"):
        check_timezone("")
