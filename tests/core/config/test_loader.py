"""conveyor.yaml loading: validation errors with file/field/line, environments, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core.config import load_config
from conveyor.core.errors import ConfigError

VALID = """\
name: churn
task: classification
target: churned
data:
  train: data/train.parquet
features:
  numeric: [a, b]
  categorical: [c]
train:
  entrypoint: train.py:train
gate:
  metrics: {roc_auc: ">= 0.8"}
environments:
  dev: {}
  prod:
    tracking_uri: ${PROD_TRACKING_URI}
    artifact_store: s3://bucket/churn
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "conveyor.yaml").write_text(text)
    return tmp_path


def error_for(tmp_path: Path, text: str, env: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env)
    return caught.value


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, VALID))
    assert loaded.config.name == "churn"
    assert loaded.config.stages == ["dev", "staging", "prod"]
    assert loaded.config.data.split.method == "random"
    assert loaded.config.gate.metrics["roc_auc"].holds(0.81)
    assert not loaded.config.gate.metrics["roc_auc"].holds(0.79)
    assert loaded.environment.tracking_uri is None


def test_missing_field_names_field_and_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("target: churned\n", ""))
    assert error.field == "target"
    assert "missing" in error.message
    assert error.exit_code == 2


def test_bad_threshold_points_at_its_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('">= 0.8"', '"at least 0.8"'))
    assert error.field == "gate.metrics.roc_auc"
    assert error.line == 12
    assert ">= 0.80" in error.message


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("task: classification", "task: classification\ntargt: x"))
    assert error.field == "targt"
    assert error.line == 3
    assert "unknown setting" in error.message


def test_a_misspelt_key_names_the_key_it_was_meant_to_be(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("target: churned", "tagret: churned"))
    assert (error.field, error.line) == ("tagret", 3)
    assert "unknown setting" in error.message and error.hint == "did you mean 'target'?"
    assert "also" not in error.message  # the missing `target` is the same mistake


def test_every_problem_is_named_with_its_line(tmp_path: Path) -> None:
    text = VALID.replace("task: classification", "task: clasification").replace('">= 0.8"', '"lots"')
    error = error_for(tmp_path, text.replace("  numeric: [a, b]", "  numeric: [a, b]\n  colour: [d]"))
    assert (error.field, error.line) == ("features.colour", 8)  # an unknown key first: it may explain others
    assert "also: task (line 2):" in error.message
    assert "; gate.metrics.roc_auc (line 13):" in error.message


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("  numeric: [a, b]", "  numeric: [a, b"))
    assert "invalid YAML" in error.message
    assert error.line is not None and error.line >= 7


def test_bad_entrypoint_and_task(tmp_path: Path) -> None:
    assert error_for(tmp_path, VALID.replace("train.py:train", "train")).field == "train.entrypoint"
    assert error_for(tmp_path, VALID.replace("classification", "clustering")).field == "task"


def test_time_split_needs_column(tmp_path: Path) -> None:
    text = VALID.replace("  train: data/train.parquet", "  train: data/train.parquet\n  split: {method: time}")
    error = error_for(tmp_path, text)
    assert error.field == "data.split"
    assert "column" in error.message


def test_champion_stage_must_exist(tmp_path: Path) -> None:
    text = VALID.replace('  metrics: {roc_auc: ">= 0.8"}', '  metrics: {roc_auc: ">= 0.8"}\n  champion: {stage: live}')
    assert "live" in error_for(tmp_path, text).message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no conveyor.yaml"):
        load_config(tmp_path)


def test_unknown_environment(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID, env="qa")
    assert "qa" in error.message and "dev" in error.message


def test_only_the_chosen_environment_needs_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROD_TRACKING_URI", raising=False)
    assert load_config(write(tmp_path, VALID), env="dev").env_name == "dev"
    error = error_for(tmp_path, VALID, env="prod")
    assert "PROD_TRACKING_URI" in error.message
    assert error.field == "environments.prod.tracking_uri"
    assert error.line == 16


def test_secret_is_resolved_but_never_in_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "postgresql://ml:s3cr3t-pass@db.internal/mlflow"
    monkeypatch.setenv("PROD_TRACKING_URI", secret)
    loaded = load_config(write(tmp_path, VALID), env="prod")
    assert loaded.environment.tracking_uri == secret
    snapshot = loaded.snapshot()
    assert "s3cr3t-pass" not in snapshot
    assert "${PROD_TRACKING_URI}" in snapshot
    assert loaded.secrets.redact(f"connecting to {secret}") == "connecting to ***"


def test_default_value_syntax(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROD_TRACKING_URI", raising=False)
    text = VALID.replace("${PROD_TRACKING_URI}", "${PROD_TRACKING_URI:-http://localhost:5000}")
    loaded = load_config(write(tmp_path, text), env="prod")
    assert loaded.environment.tracking_uri == "http://localhost:5000"


def test_env_variable_selects_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_ENV", "dev")
    assert load_config(write(tmp_path, VALID)).env_name == "dev"


@pytest.mark.parametrize(
    ("weights", "expected"),
    [("{prod: .inf}", "finite number"), ("{prod: 1.0e308, staging: 1.0e308}", "overflows"),
     ("{prod: -1}", "finite number")],
)
def test_traffic_weights_must_be_finite(tmp_path: Path, weights: str, expected: str) -> None:
    error = error_for(tmp_path, VALID + f"serve:\n  traffic: {weights}\n")
    assert error.field is not None and error.field.startswith("serve.traffic")
    assert expected in error.message


# Every reserved setting is read by now; the mechanism is checked with one reserved here.
RESERVED = {("environments", "*", "queue"): "the queue scorer (`conveyor queue`)"}
UNREAD = [
    # (YAML added at the end of VALID, the setting, its line, what will read it)
    ("  staging:\n    queue: amqp://q:5672\n", "environments.staging.queue", 19, "the queue scorer (`conveyor queue`)"),
]


@pytest.fixture
def reserved(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import MappingProxyType

    monkeypatch.setattr("conveyor.core.config.loader.NOT_READ_YET", MappingProxyType(RESERVED))


def test_the_stands_broker_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_TRACKING_URI", "http://mlflow:5000")
    text = VALID.replace("    artifact_store: s3://bucket/churn\n", "    artifact_store: s3://bucket/churn\n    broker: kafka://k:9092\n")
    write(tmp_path, text)
    assert load_config(tmp_path, env="prod").config.environments["prod"].broker == "kafka://k:9092"


@pytest.mark.usefixtures("reserved")
@pytest.mark.parametrize(("extra", "field", "line", "reader"), UNREAD, ids=[u[1] for u in UNREAD])
def test_a_setting_nothing_reads_yet_is_rejected_naming_its_reader(
    tmp_path: Path, extra: str, field: str, line: int, reader: str
) -> None:
    error = error_for(tmp_path, VALID + extra)
    assert (error.field, error.line, error.exit_code) == (field, line, 2)
    assert error.message == (
        f"{tmp_path / 'conveyor.yaml'}:{line} [{field}]: nothing reads this setting yet; "
        f"{reader} will, once it is built"
    )
    assert error.hint == "remove it for now: until then it would be silently ignored"


@pytest.mark.usefixtures("reserved")
def test_an_unread_setting_is_rejected_in_any_environment(tmp_path: Path) -> None:
    """Not only the chosen one: the file as a whole must not carry a setting nothing reads."""
    text = VALID.replace("    artifact_store: s3://bucket/churn\n", "    artifact_store: s3://bucket/churn\n    queue: amqp://q:5672\n")
    error = error_for(tmp_path, text, env="dev")
    assert (error.field, error.line) == ("environments.prod.queue", 18)


def test_the_first_unread_setting_in_the_file_is_reported(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "monitor:\n  schedule: '@hourly'\nbatch:\n  schedule: '@daily'\n")
    assert (error.field, error.line) == ("monitor.schedule", 19)


@pytest.mark.usefixtures("reserved")
def test_the_command_line_exits_2_on_an_unread_setting(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from conveyor.cli.app import app

    write(tmp_path, VALID + "  staging:\n    queue: amqp://q:5672\n")
    result = CliRunner().invoke(app, ["models", "--project", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "conveyor.yaml:19 [environments.staging.queue]: nothing reads this setting yet" in result.output
    assert "Traceback" not in result.output


def test_runtime_python_is_read_as_a_major_minor_string(tmp_path: Path) -> None:
    write(tmp_path, VALID + "runtime:\n  python: '3.12'\n")
    assert load_config(tmp_path).config.runtime.python == "3.12"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "expected"), [("3.10", "quoted string"), ("'3'", "string should match")])
def test_runtime_python_that_is_not_a_quoted_version_is_refused(tmp_path: Path, value: str, expected: str) -> None:
    error = error_for(tmp_path, VALID + f"runtime:\n  python: {value}\n")
    assert (error.field, error.line) == ("runtime.python", 19)
    assert expected in error.message.lower()


STANDS = VALID.replace("environments:\n", """stages:
  - dev
  - {name: int, env: sim}
  - name: prod
    env: prom
environments:
  sim: {tracking_uri: "postgresql://mlflow@sim-db/mlflow", artifact_store: "s3://sim/churn"}
""").replace("  prod:\n", "  prom:\n")


def test_stages_map_to_stands_and_plain_names_stay_on_the_current_one(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, STANDS))
    assert loaded.config.stages == ["dev", "int", "prod"]
    assert loaded.config.stage_envs == {"dev": None, "int": "sim", "prod": "prom"}


def test_a_stage_on_an_unknown_environment_is_an_error_on_its_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, STANDS.replace("env: prom", "env: production"))
    assert error.line == STANDS.splitlines().index("    env: prom") + 1
    assert error.field == "stages.2.env" and error.exit_code == 2
    assert "stage 'prod'" in error.message and "'production'" in error.message
    assert "defined: dev, prom, sim" in error.message


def test_a_stage_mapping_is_strict(tmp_path: Path) -> None:
    error = error_for(tmp_path, STANDS.replace("{name: int, env: sim}", "{name: int, stand: sim}"))
    assert error.field == "stages.1.stand" and "unknown setting" in error.message
    error = error_for(tmp_path, STANDS.replace("{name: int, env: sim}", "{name: '1', env: sim}"))
    assert "not a valid MLflow alias name" in error.message
    error = error_for(tmp_path, STANDS.replace("{name: int, env: sim}", "{name: dev, env: sim}"))
    assert "stages must be unique" in error.message


def test_another_stands_secrets_are_resolved_when_it_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROD_TRACKING_URI", raising=False)
    loaded = load_config(write(tmp_path, STANDS))  # prom's ${PROD_TRACKING_URI} not needed yet
    with pytest.raises(ConfigError, match="PROD_TRACKING_URI is not set") as missing:
        loaded.environment_of("prom")
    assert missing.value.line == STANDS.splitlines().index("    tracking_uri: ${PROD_TRACKING_URI}") + 1
    monkeypatch.setenv("PROD_TRACKING_URI", "http://user:hunter2@prom:5000")
    assert loaded.environment_of("prom").tracking_uri == "http://user:hunter2@prom:5000"
    assert "hunter2" not in loaded.secrets.redact("uri http://user:hunter2@prom:5000")
    assert loaded.environment_of("sim").artifact_store == "s3://sim/churn"


def test_retrain_max_age_is_a_duration_read_from_a_timestamp_column(tmp_path: Path) -> None:
    write(tmp_path, VALID + "monitor:\n  retrain: {data: both, max_age: 90d, time_column: signed_up}\n")
    retrain = load_config(tmp_path).config.monitor.retrain
    assert (retrain.max_age, retrain.time_column) == ("90d", "signed_up")


def test_retrain_max_age_that_is_no_duration_is_refused_on_its_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "monitor:\n  retrain:\n    max_age: 3 months\n    time_column: t\n")
    assert (error.field, error.line) == ("monitor.retrain.max_age", 20)
    assert "is not a duration" in error.message and "90d" in error.message


def test_retrain_max_age_without_a_timestamp_column_is_refused(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID + "monitor:\n  retrain: {max_age: 90d}\n")
    assert "monitor.retrain.max_age needs a timestamp column" in error.message
    assert "time_column" in error.message
