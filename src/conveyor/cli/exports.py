"""`conveyor export airflow|k8s`: one stand's schedules as Airflow DAG files or Kubernetes
manifests; `conveyor release`: test → pack → export → publish."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from conveyor.cli.common import EnvOption, JsonOption, ProjectOption, handle_errors

if TYPE_CHECKING:
    from conveyor.exports import ExportPlan

export_app = typer.Typer(
    name="export", help="Write one stand's pipelines as Airflow 3 DAGs or Kubernetes manifests.",
    no_args_is_help=True,
)
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Folder the files are written to.")]
PackOption = Annotated[Optional[str], typer.Option(
    "--pack", help="URI of the environment pack the jobs run in (`conveyor pack` prints it; `conveyor "
    "release` packs the version the stand serves). DAG tasks without one run with the worker's conveyor; "
    "manifests need one.")]


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


def _export(render: Callable[[ExportPlan], dict[str, str]], out: Path, project: Path | None, env: str | None, pack: str | None,
            json: bool) -> None:
    from conveyor.cli.common import print_notice
    from conveyor.cli.output import console, print_json
    from conveyor.core.config.loader import load_config
    from conveyor.exports import export_plan
    from conveyor.exports.files import digest, write_files

    loaded = load_config(project, env, keep_unresolved=True)  # the stand's secrets are the jobs' business
    plan = export_plan(loaded, pack_uri=pack)
    files = render(plan)
    written = write_files(files, out)
    unresolved = sorted(loaded.secrets.unresolved)
    if json:
        print_json({"files": {p.name: digest(files[p.name]) for p in written}, "skipped": list(plan.skipped)})
        return
    for reason in plan.skipped:
        print_notice(reason)
    if unresolved:
        print_notice(f"not set here, resolved where the jobs run: {', '.join(unresolved)}")
    for path in written:
        console.print(f"[green]✓[/] {path}", highlight=False, soft_wrap=True)


@handle_errors
def release(
    project: ProjectOption = None,
    env: EnvOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be published; publish nothing.")] = False,
    skip_tests: Annotated[bool, typer.Option("--skip-tests", help="Do not run the project's tests.")] = False,
    pack: PackOption = None,
    json: JsonOption = False,
) -> None:
    """Test → pack → export → publish the stand's DAG files and manifests, recorded as an
    audit event; run again, it changes nothing."""
    from conveyor.cli.common import load_project, print_notice
    from conveyor.cli.output import RichReporter, console, err_console, print_json
    from conveyor.exports.release import ReleaseOptions

    proj = load_project(project, env)
    options = ReleaseOptions(dry_run=dry_run, run_tests=not skip_tests, pack_uri=pack)
    result = proj.release(options, RichReporter(err_console if json else console))
    if json:
        print_json(result.to_dict())
        return
    for reason in result.skipped:
        print_notice(reason)
    head = "would publish" if dry_run else f"released ({result.changed} of {len(result.files)} files changed)"
    version = f"v{result.version}" if result.version else "no registered version"
    console.print(f"[green]✓[/] {result.model} on {result.env}: {head}; {version}, pack "
                  f"{result.pack_uri or 'none (tasks run with the image’s conveyor)'}, tests {result.tests}",
                  highlight=False, soft_wrap=True)
    for published in result.files:
        mark = "·" if dry_run else ("✎" if published.changed else "=")
        console.print(f"  {mark} {published.target}  {published.sha256[:12]}", markup=False, highlight=False,
                      soft_wrap=True)
    for target in result.removed:
        console.print(f"  {'would remove' if dry_run else 'removed'} {target} (no longer exported)", markup=False,
                      highlight=False, soft_wrap=True)
