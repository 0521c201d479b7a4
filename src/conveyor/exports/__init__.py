"""Exports: one stand's config as Airflow 3 DAG files and Kubernetes manifests, and the
release that tests, packs, exports and publishes them.

    export_plan(loaded, pack_uri=...)   → ExportPlan (the scheduled pipelines; none: ExportError)
    airflow_files(plan)                 → DAG files (+ the SparkApplications of Spark steps)
    k8s_files(plan, loaded)             → SparkApplications, CronJobs, serving objects (YAML),
                                          each checked against its schema before anything is written

Modules: plan, airflow (DAG text), k8s (manifests as dicts), validate (CRD and Kubernetes
schemas), files (writing whole files), release (`conveyor release`).
"""

from conveyor.exports.plan import ExportPlan, Scheduled, export_plan

__all__ = ["ExportPlan", "Scheduled", "export_plan"]
