"""`conveyor export airflow|k8s`: one stand's schedules as Airflow DAG files or Kubernetes
manifests; `conveyor release`: test → pack → export → publish."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, JsonOption, ProjectOption, handle_errors

export_app = typer.Typer(
    name="export", help="Write one stand's pipelines as Airflow 3 DAGs or Kubernetes manifests.",
    no_args_is_help=True,
)
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Folder the files are written to.")]
PackOption = Annotated[Optional[str], typer.Option(
    "--pack", help="URI of the environment pack the jobs run in (default: the pack recorded on the "
    "version the stand serves, if any).")]


@export_app.command("airflow")
@handle_errors
def airflow(out: OutOption, project: ProjectOption = None, env: EnvOption = None, pack: PackOption = None,
            json: JsonOption = False) -> None:
    """Airflow 3 DAG files: <model>_train, _batch, _monitor and _retrain, for the pipelines
    that have a schedule."""
    from conveyor.exports.airflow import airflow_files

    _export(airflow_files, out, project, env, pack, json)


@export_app.command("k8s")
@handle_errors
def k8s(out: OutOption, project: ProjectOption = None, env: EnvOption = None, pack: PackOption = None,
        json: JsonOption = False) -> None:
    """Kubernetes manifests: a SparkApplication per scheduled job, CronJobs on a stand without
    Airflow, and the serving Deployment, Service, HPA and PodDisruptionBudget."""
    from conveyor.exports.k8s import k8s_files

    _export(k8s_files, out, project, env, pack, json)


def _export(render: object, out: Path, project: Path | None, env: str | None, pack: str | None,
            json: bool) -> None:
    from conveyor.cli.common import print_notice
    from conveyor.cli.output import console, print_json
    from conveyor.core.config.loader import load_config
    from conveyor.exports import export_plan
    from conveyor.exports.files import digest, write_files

    loaded = load_config(project, env)
    plan = export_plan(loaded, pack_uri=pack)
    files = render(plan)  # type: ignore[operator]
    written = write_files(files, out)
    if json:
        print_json({"files": {p.name: digest(files[p.name]) for p in written}, "skipped": list(plan.skipped)})
        return
    for reason in plan.skipped:
        print_notice(reason)
    for path in written:
        console.print(f"[green]✓[/] {path}", highlight=False, soft_wrap=True)
