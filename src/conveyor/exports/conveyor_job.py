"""The driver program of conveyor's SparkApplications and job pods: runs the job spec given
as its one argument with the conveyor of the environment it runs in (the pack, unpacked by
Spark as ``./environment``), and exits with the job's exit code.

    spark-submit --archives pack.tar.gz#environment conveyor_job.py '{"kind": "score", ...}'

It is a standalone file (published beside the manifests); it imports nothing of conveyor
until it runs.
"""

from __future__ import annotations

import runpy
import sys


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: conveyor_job.py SPEC_JSON (one conveyor job spec)")
    sys.argv = ["conveyor", "job", "run", sys.argv[1]]
    runpy.run_module("conveyor", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
