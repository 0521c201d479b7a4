"""The SparkApplications' driver program under a real ``spark-submit``, the pack given as
``--archives …#environment`` and ``PYSPARK_PYTHON=./environment/bin/python`` as in the
manifests. The master is ``local-cluster[1,2,1024]`` (one worker, two cores), not
``local[2]``: in local mode the Python workers start in the driver's folder, where Spark does
not unpack archives, so the relative interpreter path of cluster mode cannot resolve there;
local-cluster executors, like Kubernetes ones, run in the folder the archive is unpacked in.
The pack is thin: a venv whose Python sees this test environment's packages and marks every
interpreter it starts (a full pack build takes minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conveyor.app import Project
from conveyor.exports.k8s import PYTHON

ENTRYPOINT = Path(__file__).resolve().parents[2] / "src" / "conveyor" / "exports" / "conveyor_job.py"


def test_the_driver_program_scores_with_the_pack_as_spark_archives(
    make_project: Callable[..., Path], thin_pack: tuple[Path, Path], tmp_path: Path
) -> None:
    project = make_project()
    Project.load(project).train()
    tarball, marks = thin_pack
    out = tmp_path / "scores"
    spec = {"project": str(project), "env": None, "kind": "score", "model": "churn@dev", "engine": "spark",
            "input": str(project / "data" / "train.parquet"), "output": str(out)}
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV", "PYSPARK_PYTHON")}
    env |= {"PYSPARK_PYTHON": PYTHON, "PYSPARK_DRIVER_PYTHON": sys.executable, "CONVEYOR_PACK_MARKS": str(marks),
            "SPARK_LOCAL_IP": "127.0.0.1"}
    home = _spark_home(tmp_path / "spark-home")  # executors' work folders under tmp_path/spark-home/work
    env |= {"SPARK_HOME": str(home)}
    submit = home / "bin" / "spark-submit"
    done = subprocess.run(
        [str(submit), "--master", "local-cluster[1,2,1024]", "--archives", f"{tarball}#environment",
         "--conf", "spark.ui.enabled=false", str(ENTRYPOINT), json.dumps(spec)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stderr[-4000:]
    answer = json.loads(lines[-1])
    assert answer["ok"] is True and answer["result"]["engine"] == "spark"
    assert answer["result"]["rows_out"] > 0
    assert (out / "_manifest.json").is_file()
    assert list(marks.iterdir()), "no Python worker ran the pack's interpreter"


def _spark_home(folder: Path) -> Path:
    """pyspark's installation seen through links, so local-cluster's work folders (always
    SPARK_HOME/work) are written here, not into the package."""
    import pyspark

    installed = Path(pyspark.__file__).parent
    folder.mkdir()
    for entry in installed.iterdir():
        if entry.name != "work":
            (folder / entry.name).symlink_to(entry)
    return folder
