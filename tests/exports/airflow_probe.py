"""Run by the Airflow 3 virtualenv's Python (not by pytest): loads a DAG folder in a real
DagBag and prints what the tests check as one JSON line; ``test DAG_ID`` runs it with
``dag.test()`` on the SQLite database of $AIRFLOW_HOME.

    python airflow_probe.py load DAG_FOLDER
    python airflow_probe.py test DAG_FOLDER DAG_ID [RUN_AFTER]
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime


def _load(folder: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=folder, safe_mode=False)


def _describe(bag) -> dict:
    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        timetable = dag.timetable
        dags[dag_id] = {
            "timetable": type(timetable).__name__,
            "schedule": {"expression": getattr(timetable, "expression", None),
                         "timezone": str(getattr(timetable, "timezone", ""))},
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "owner": dag.owner,
            "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "retries": t.retries,
                                  "retry_delay_s": t.retry_delay.total_seconds(),
                                  "type": type(t).__name__,
                                  "outlets": [a.name for a in t.outlets],
                                  "inlets": [a.name for a in t.inlets]}
                      for t in dag.tasks},
            "schedule_assets": _assets(timetable),
        }
    return {"import_errors": {k: v for k, v in bag.import_errors.items()}, "dags": dags}


def _assets(timetable) -> list[str]:
    condition = getattr(timetable, "asset_condition", None)
    if condition is None:
        return []
    return sorted(getattr(asset, "name", str(asset)) for asset in condition.objects)


def _test(folder: str, dag_id: str, run_after: str | None) -> dict:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent
    from airflow.utils.session import create_session

    bag = _load(folder)
    if bag.import_errors:
        return {"import_errors": bag.import_errors}
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import (
        sync_bag_to_db,  # the DAG and asset rows the queue needs
    )

    DagBundlesManager().sync_bundles_to_db()  # the dags-folder bundle: $AIRFLOW__CORE__DAGS_FOLDER
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)
    dag = bag.dags[dag_id]
    at = datetime.fromisoformat(run_after) if run_after else datetime(2026, 12, 1, 3, tzinfo=UTC)
    run = dag.test(logical_date=at, run_after=at)
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
        events = [{"asset": e.asset.name, "extra": e.extra} for e in session.query(AssetEvent).all()]
        queued = sorted({q.target_dag_id for q in session.query(AssetDagRunQueue).all()})
        xcoms = {}
        for ti in run.get_task_instances(session=session):
            from airflow.models.xcom import XComModel

            row = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run.run_id, task_id=ti.task_id,
                                                     key="return_value").one_or_none()
            xcoms[ti.task_id] = row.value if row is not None else None
    return {"state": str(run.state), "tasks": states, "asset_events": events, "queued": queued,
            "xcom": xcoms}


def main() -> None:
    command, folder = sys.argv[1], sys.argv[2]
    if command == "load":
        answer = _describe(_load(folder))
    else:
        answer = _test(folder, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    print("PROBE " + json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    main()
