"""Every command exits with the code of the one table (core/errors.py ExitCode), and what is
wrong whatever the registry holds is said before the store is connected: these tests point
the tracking URI at a port nobody listens on where the store must not be needed."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor.core.errors import ExitCode

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def no_store(make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    return make_project(with_store=False)


def test_force_without_reason_is_usage_before_connecting(cli, no_store: Path) -> None:
    result = cli("promote", "--to", "prod", "--version", "1", "--force", "--project", no_store)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--force needs --reason" in result.output and "unreachable" not in result.output


def test_unknown_stage_is_usage_before_connecting(cli, no_store: Path) -> None:
    for args in (("promote", "--to", "production"), ("rollback", "--stage", "production")):
        result = cli(*args, "--project", no_store)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "unknown stage 'production'" in result.output and "unreachable" not in result.output


def test_port_in_use_is_unavailable_before_connecting(cli, no_store: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", port, "--workers", "1", "--project", no_store)
    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    assert f"cannot serve on 127.0.0.1:{port}" in result.output and "--port" in result.output
    assert "unreachable" not in result.output


def test_an_unreachable_store_is_unavailable(cli, no_store: Path) -> None:
    result = cli("models", "--project", no_store)
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"tracking store {UNREACHABLE} is unreachable" in result.output


def test_unknown_model_version_and_empty_stage_are_not_found(cli, project_dir: Path, tmp_path: Path) -> None:
    """An unknown model, an unknown version and a stage no version holds: one code (7)."""
    data = project_dir / "data" / "train.parquet"
    out = tmp_path / "out"
    for args in (
        ("models", "nosuchmodel"),
        ("predict", "churn@prod", "--input", data, "--output", out),  # no model registered yet
        ("promote", "nosuchmodel", "--to", "staging"),
    ):
        result = cli(*args, "--project", project_dir)
        assert result.exit_code == ExitCode.NOT_FOUND, (args, result.output)
        assert "no registered model" in result.output, result.output
    assert not out.exists()
