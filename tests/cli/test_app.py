"""The command line itself: lazy imports, init, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

from conveyor.core.errors import ExitCode


def test_help_imports_no_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from conveyor.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('mlflow', 'pandas', 'sklearn', 'pyspark', 'numpy', 'pydantic', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout
    assert "HEAVY=\n" in out.stdout


def test_init_scaffolds_a_working_project(cli, tmp_path: Path) -> None:
    target = tmp_path / "churn-model"
    result = cli("init", target)
    assert result.exit_code == 0, result.output
    for name in ("conveyor.yaml", "train.py", "generate_data.py", "README.md", "data/train.parquet"):
        assert (target / name).exists(), name
    assert yaml.safe_load((target / "conveyor.yaml").read_text())["name"] == "churn"
    named = cli("init", tmp_path / "other", "--name", "retention")
    assert named.exit_code == 0
    assert yaml.safe_load((tmp_path / "other" / "conveyor.yaml").read_text())["name"] == "retention"


def test_init_refuses_non_empty_folder_and_leaves_it_alone(cli, tmp_path: Path) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = cli("init", target)
    assert result.exit_code == ExitCode.USAGE
    assert "not empty" in result.output
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert cli("init", tmp_path / "x", "--name", "9bad").exit_code == ExitCode.USAGE
    assert not (tmp_path / "x").exists()
    unknown = cli("init", tmp_path / "y", "--template", "clustering")
    assert unknown.exit_code == ExitCode.USAGE and "classification, multiclass, regression" in unknown.output
    assert not (tmp_path / "y").exists()


def test_generated_data_is_deterministic(tmp_path: Path) -> None:
    import pandas as pd

    from conveyor.examples import example_path
    from conveyor.scaffold import generate_example_data

    project = example_path("churn")
    a = pd.read_parquet(generate_example_data(project, rows=300, out=tmp_path / "a.parquet"))
    b = pd.read_parquet(generate_example_data(project, rows=300, out=tmp_path / "b.parquet"))
    drifted = pd.read_parquet(
        generate_example_data(project, rows=300, drift=1.0, out=tmp_path / "c.parquet")
    )
    pd.testing.assert_frame_equal(a, b)
    assert a["monthly_charges"].isna().any() and a["region"].isna().any()
    assert drifted["support_calls"].mean() > a["support_calls"].mean() + 1
    assert (drifted["plan"] == "basic").mean() > (a["plan"] == "basic").mean()
    assert "overseas" in set(drifted["region"].dropna())


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CONVEYOR_"))}
    conveyor = Path(sys.executable).with_name("conveyor")
    out = subprocess.run(
        [str(conveyor), "demo", "--workspace", str(tmp_path)],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=600, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rollback" in out.stdout
    assert (tmp_path / "churn-model" / ".conveyor" / "mlflow.db").exists()


def test_version(cli) -> None:
    import conveyor

    result = cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"conveyor {conveyor.__version__}"


def test_help_lists_shell_completion() -> None:
    out = subprocess.run([sys.executable, "-m", "conveyor", "--help"], capture_output=True, text=True,
                         check=True, env={**os.environ, "COLUMNS": "200"})
    assert "--install-completion" in out.stdout and "--show-completion" in out.stdout


def test_the_process_ends_as_sys_exit_would_output_and_exit_code_whole() -> None:
    """`main` skips the interpreter's teardown, not what exit promises: output flushed, the
    command's exit code, atexit handlers run, non-daemon threads finished first."""
    code = (
        "import atexit, sys, threading, time\n"
        "from conveyor.cli import app\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('thread done', file=sys.stderr))).start()\n"
        "sys.stdout.write('x' * 100000)\n"
        "sys.argv = ['conveyor', *sys.argv[1:]]\n"
        "app.main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("x" * 100000) and done.stdout.rstrip().endswith(f"conveyor {version('conveyor')}")
    assert "thread done" in done.stderr and done.stderr.index("thread done") < done.stderr.index("atexit ran")
    unknown = subprocess.run([sys.executable, "-c", code, "no-such-command"], capture_output=True, text=True, check=False)
    assert unknown.returncode == ExitCode.USAGE.value and "No such command" in unknown.stderr
