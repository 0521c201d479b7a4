"""`conveyor demo`: the whole loop that exists so far, on the embedded default stack."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.rule import Rule

from conveyor.app import Project
from conveyor.cli.output import RichReporter, console, versions_table
from conveyor.core.errors import GateFailedError
from conveyor.scaffold import generate_example_data, init_project


def run_demo(workspace: Path | None = None) -> Project:
    base = Path(workspace) if workspace else Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    folder = base / "churn-model"
    console.print(Rule("conveyor demo"))
    console.print(f"workspace: {base}  (embedded stack: SQLite MLflow store + local artifacts)")

    _title("1. conveyor init churn-model")
    init_project(folder)
    project = Project.load(folder)
    reporter = RichReporter()

    _title("2. conveyor train  → v1, gate, alias dev")
    first = project.train(reporter=reporter)
    console.print(f"v{first.version}: gate {first.verdict.status}, alias {first.alias}")

    _title("3. conveyor promote churn --to staging, then --to prod")
    for stage in ("staging", "prod"):
        move = project.promote(stage)
        console.print(f"{stage}: {move.from_version or 'none'} → v{move.to_version}")

    _title("4. a weaker challenger (C=0.0001) is compared with prod and fails the gate")
    project.config.train.params["C"] = 0.0001
    try:
        project.train(reporter=reporter)
    except GateFailedError as failed:
        console.print(f"[red]v{failed.version} failed[/] and got no alias:")
        for reason in failed.reasons:
            console.print(f"  - {reason}")

    _title("5. a retrained version (C=0.5) passes and goes dev → staging → prod")
    project.config.train.params["C"] = 0.5
    third = project.train(reporter=reporter)
    for stage in ("staging", "prod"):
        project.promote(stage)
    console.print(f"prod now holds v{third.version}")

    _title("6. conveyor rollback churn --stage prod")
    back = project.rollback("prod", reason="demo: roll back to the previous holder")
    console.print(f"prod: v{back.from_version} → v{back.to_version}")

    _title("7. conveyor monitor churn --data drifted.parquet --on-drift retrain")
    _drift_and_retrain(project, folder, reporter)

    _score_batch(project, base)
    _title("9. conveyor serve: the endpoint answers (MLflow scoring protocol, in-process)")
    _serve_once(project)
    _title("10. conveyor models churn")
    console.print(versions_table(project.name, project.models()))
    console.print(f"\nMLflow store: {project.stack.tracking_uri}")
    console.print(f"try: cd {folder} && conveyor models && conveyor audit")
    return project


def _drift_and_retrain(project: Project, folder: Path, reporter: RichReporter) -> None:
    """A drifted batch arrives with labels; monitoring detects it and retrains on the
    training data plus the new batch. The new version gets dev; prod stays manual."""
    import pandas as pd

    from conveyor.monitoring.terminal import print_result
    from conveyor.scaffold import generate_example_data

    batch = generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    train = folder / project.config.data.train
    pd.concat([pd.read_parquet(train), pd.read_parquet(batch)], ignore_index=True).to_parquet(train)
    result = project.monitor(
        data=batch, report=folder / "drift.html", on_drift=["alert", "retrain"],
        reporter=reporter,
    )
    print_result(result, console)
    console.print(f"report: {result.report}")


def _score_batch(project: Project, base: Path) -> None:
    """8. Batch scoring: a new day's customers scored with the prod model, committed with a manifest."""
    from conveyor.batch import predict
    from conveyor.batch.progress import RichProgress

    _title("8. conveyor predict churn@prod --input data/new/ --output scores/")
    generate_example_data(project.path, rows=20_000, seed=8, out=Path("data/new/day-1.parquet"))
    result = predict(
        project.lifecycle, f"{project.name}@prod", str(project.path / "data" / "new"), str(base / "scores"),
        progress=RichProgress(console),
    )
    m = result.manifest
    console.print(
        f"{m.model['name']} v{m.model['version']}: {m.rows_in:,} rows in, {m.rows_out:,} out, "
        f"{m.rejected} rejected, {len(m.parts)} parts, input sha256 {m.input['sha256'][:12]}…"
    )
    console.print(f"manifest: {result.manifest_path}")


def _serve_once(project: Project) -> None:
    """Build the real app for the project and send one request through it."""
    import json
    import time
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about its test client's transport
        from fastapi.testclient import TestClient

    from conveyor.serving import build_service, create_app

    frame = pd.read_parquet(project.path / "data" / "train.parquet").head(3)[project.config.features.inputs]
    records = json.loads(frame.to_json(orient="records"))
    with TestClient(create_app(build_service(project.serving))) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)  # deployments load and warm in the background
        response = http.post(f"/models/{project.name}/invocations", json={"dataframe_records": records})
    body = response.json()
    console.print(f"POST /models/{project.name}/invocations → {response.status_code}", markup=False)
    console.print(json.dumps({k: body[k] for k in body if k != "request_id"}), markup=False, highlight=False)


def _title(text: str) -> None:
    console.print(Rule(text, align="left", style="cyan"))
