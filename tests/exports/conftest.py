"""The Airflow 3 virtualenv (built once by `.ci/airflow-venv`, outside the repository) and
projects with schedules for the export tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("airflow_probe.py")
SCHEDULES = """
batch:
  input: data/train.parquet
  output: out/scores
  schedule: "0 2 * * *"
  stage: dev
monitor:
  data: data/drifted.parquet
  schedule: "0 * * * *"
  on_drift: [retrain]
  retrain: {data: both}
export:
  owner: ml-team
  tags: [team-churn]
"""


def airflow_venv() -> Path | None:
    version = os.environ.get("CONVEYOR_AIRFLOW_VERSION", "3.3.2")
    cache = Path(os.environ.get("CONVEYOR_AIRFLOW_CACHE", Path.home() / ".cache" / "conveyor-airflow"))
    venv = cache / version
    return venv if (venv / ".complete").is_file() else None


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AIRFLOW_HOME with a migrated SQLite database, once per session."""
    venv = airflow_venv()
    if venv is None:
        pytest.skip("the Airflow 3 virtualenv is not built: run .ci/airflow-venv (CI's .ci/run does)")
    home = tmp_path_factory.mktemp("airflow-home")
    subprocess.run([str(venv / "bin" / "airflow"), "db", "migrate"], env=_airflow_env(home, home / "dags"),
                   check=True, capture_output=True, timeout=300)
    return home


def _airflow_env(home: Path, dags: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV", "PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "CONVEYOR_BIN": str(Path(sys.executable).parent / "conveyor")}
    return env


@pytest.fixture
def airflow(airflow_home: Path) -> Callable[..., dict[str, Any]]:
    """Run the probe in the Airflow venv: ``airflow("load", folder)`` / ``airflow("test", folder, dag_id)``."""
    venv = airflow_venv()
    assert venv is not None

    def probe(command: str, folder: Path, *args: str) -> dict[str, Any]:
        done = subprocess.run([str(venv / "bin" / "python"), str(PROBE), command, str(folder), *args],
                              env=_airflow_env(airflow_home, folder), capture_output=True, text=True,
                              timeout=900, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
        assert lines, f"the probe printed no answer (exit {done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        answer: dict[str, Any] = json.loads(lines[-1].removeprefix("PROBE "))
        answer["log"] = done.stdout[-20000:] + done.stderr[-20000:]
        return answer

    return probe


@pytest.fixture
def scheduled_project(make_project: Callable[..., Path], edit_config: Callable[[Path, str, str], None]) -> Path:
    """The example with train, batch and monitor schedules, and drifted data to monitor."""
    import pandas as pd

    project = make_project()
    edit_config(project, "  params: {C: 1.0}\n", '  params: {C: 1.0}\n  schedule: "0 3 * * *"\n')
    with (project / "conveyor.yaml").open("a") as config:
        config.write(SCHEDULES)
    frame = pd.read_parquet(project / "data" / "train.parquet")
    frame["monthly_charges"] = frame["monthly_charges"] * 3 + 40
    frame["tenure_months"] = frame["tenure_months"] + 60
    frame.to_parquet(project / "data" / "drifted.parquet")
    return project


@pytest.fixture
def thin_pack(tmp_path: Path) -> tuple[Path, Path]:
    """A pack tarball (and the folder its interpreters mark): a venv whose Python sees this
    test environment's packages and leaves a file named by its pid in the folder whenever it
    starts with $CONVEYOR_PACK_MARKS set. A full pack build takes minutes."""
    import site

    from tests.packs.conftest import make_pack

    marks = tmp_path / "marks"
    marks.mkdir()
    packages = site.getsitepackages()[0]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    line = (f"import os, site; site.addsitedir({packages!r}); "
            "d = os.environ.get('CONVEYOR_PACK_MARKS'); d and open(os.path.join(d, str(os.getpid())), 'w').close()\n")
    tarball, _ = make_pack(tmp_path / "store", "b" * 64, files={f"lib/{version}/site-packages/_thin_pack.pth": line})
    return tarball, marks
