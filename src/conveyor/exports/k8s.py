"""Kubernetes manifests for one stand, as plain dicts written as YAML:

- a SparkApplication (``sparkoperator.k8s.io/v1beta2``) per scheduled train, batch and monitor
  job: ``type: Python``, ``pythonVersion: "3"``, the driver program ``conveyor_job.py`` with
  the job spec as its argument, the pack as ``deps.archives`` / ``spark.archives``
  (``…#environment``) and ``PYSPARK_PYTHON=./environment/bin/python`` on driver and
  executors, resources from ``runtime.spark``, ``restartPolicy`` from ``scheduler.retries``,
  credentials only as ``envFrom.secretRef``;
- on a stand without Airflow (no ``dags`` folder) a CronJob per scheduled pipeline
  (``concurrencyPolicy: Forbid``, ``startingDeadlineSeconds``), its pod running the job in the pack;
- for ``conveyor serve``: Deployment (probes on /healthz and /readyz, a ``preStop`` pause to
  drain, resources, Prometheus scrape annotations), Service, HorizontalPodAutoscaler,
  PodDisruptionBudget.

Each object is checked (validate.py) before any file is written.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.core.errors import ExportError
from conveyor.exports.plan import RETRAIN, ExportPlan, Scheduled, spark_uri
from conveyor.exports.validate import check_core_object, check_spark_application

PYTHON = "./environment/bin/python"
SERVE_PORT = 8000
# runtime.spark.conf keys the SparkApplication has fields for (the operator sets them from there)
CONF_FIELDS = {
    "spark.driver.cores": ("driver", "cores", int),
    "spark.executor.cores": ("executor", "cores", int),
    "spark.executor.instances": ("executor", "instances", int),
    "spark.driver.memoryOverhead": ("driver", "memoryOverhead", str),
    "spark.executor.memoryOverhead": ("executor", "memoryOverhead", str),
}

Manifest = dict[str, Any]


def k8s_files(plan: ExportPlan) -> dict[str, str]:
    """File name → YAML of every object."""
    files: dict[str, str] = {}
    for pipeline in plan.pipelines:
        if pipeline.name == RETRAIN:
            continue  # the monitor job retrains on drift in the same run
        name = plan.object_name(pipeline.name)
        files[f"{name}.sparkapplication.yaml"] = to_yaml(spark_application(plan, pipeline.name))
        if not plan.airflow:
            files[f"{name}.cronjob.yaml"] = to_yaml(cron_job(plan, pipeline))
    files |= {f"{plan.object_name('serve')}.{kind}.yaml": to_yaml(obj) for kind, obj in serving(plan).items()}
    return files


def to_yaml(manifest: Manifest) -> str:
    import yaml

    class _Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # a value used twice is written twice, never as an &anchor

    return yaml.dump(manifest, Dumper=_Plain, sort_keys=False, default_flow_style=False, width=120)


def job_spec(plan: ExportPlan, pipeline: str, *, slot: str | None = None) -> dict[str, Any]:
    """The job a SparkApplication's driver runs (batch and monitor on the Spark engine; train
    gates in the same job, monitor retrains on drift: a SparkApplication or CronJob has one step)."""
    spec: dict[str, Any] = {"project": plan.project, "env": plan.env}
    if pipeline == "train":
        return spec | {"kind": "train", "gate": True}
    if pipeline == "monitor":
        return spec | {"kind": "monitor", "engine": "spark", "retrain": RETRAIN in plan.names}
    if pipeline == "batch":
        return spec | {"kind": "score", "model": plan.batch_model, "engine": "spark", "resume": True,
                       **({"slot": slot} if slot else {})}
    raise ValueError(f"no job for pipeline {pipeline!r}")


def spark_application(plan: ExportPlan, pipeline: str, *,
                      spec: dict[str, Any] | None = None, airflow_step: bool = False) -> Manifest:
    """The SparkApplication of a pipeline's job, checked against the operator's CRD."""
    pack = spark_uri(_pack(plan))
    k8s = plan.kubernetes
    spark = plan.spark
    conf = {str(k): _text(v) for k, v in sorted((spark.conf if spark else {}).items())}
    settings: dict[str, str] = {}
    roles: dict[str, dict[str, Any]] = {"driver": {"cores": 1, "memory": "1g"},
                                        "executor": {"cores": 1, "instances": 1, "memory": "1g"}}
    if spark:
        for role, field, value, key in (
            ("driver", "memory", spark.driver_memory, "runtime.spark.driver_memory"),
            ("executor", "memory", spark.executor_memory, "runtime.spark.executor_memory"),
            ("executor", "instances", spark.executor_instances, "runtime.spark.executor_instances"),
            ("executor", "cores", spark.executor_cores, "runtime.spark.executor_cores"),
        ):
            if value is not None:
                roles[role][field] = value
                settings[f"spec.{role}.{field}"] = key
    for key, (role, field, kind) in CONF_FIELDS.items():
        if key in conf:
            raw = conf.pop(key)
            roles[role][field] = _as(kind, raw)
            settings[f"spec.{role}.{field}"] = f"runtime.spark.conf.{key}"
    conf |= {"spark.archives": f"{pack}#environment", "spark.pyspark.python": PYTHON,
             "spark.kubernetes.driverEnv.PYSPARK_PYTHON": PYTHON, "spark.executorEnv.PYSPARK_PYTHON": PYTHON}
    labels = _labels(plan, pipeline)
    pod: dict[str, Any] = {"labels": labels, "env": [{"name": "PYSPARK_PYTHON", "value": PYTHON}]}
    if k8s.secrets:
        pod["envFrom"] = [{"secretRef": {"name": name}} for name in k8s.secrets]
    driver = {**roles["driver"], **pod, **({"serviceAccount": k8s.service_account} if k8s.service_account else {})}
    executor = {**roles["executor"], **pod}
    manifest: Manifest = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": plan.object_name(pipeline), "namespace": k8s.namespace, "labels": labels},
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": _image(plan),
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": plan.entrypoint_uri,
            "arguments": [json.dumps(spec or job_spec(plan, pipeline), separators=(",", ":"))],
            "sparkVersion": k8s.spark_version,
            "deps": {"archives": [f"{pack}#environment"]},
            "sparkConf": conf,
            "restartPolicy": _restart_policy(plan, airflow_step),
            "driver": driver,
            "executor": executor,
        },
    }
    check_spark_application(manifest, manifest["metadata"]["name"], settings)
    return manifest


def cron_job(plan: ExportPlan, pipeline: Scheduled) -> Manifest:
    """A CronJob whose pod runs the pipeline's job in the pack (stands without Airflow)."""
    k8s = plan.kubernetes
    spec = job_spec(plan, pipeline.name)
    if pipeline.name == "batch":
        spec |= {"engine": "local", "slot": "latest"}  # each day's run into its own slot output
    if pipeline.name == "monitor":
        del spec["engine"]  # in the pod: monitor.engine
    command = ["conveyor", "job", "run", json.dumps(spec, separators=(",", ":")), "--env-pack", _pack(plan)]
    container: dict[str, Any] = {"name": "job", "image": _image(plan), "args": command}
    if k8s.secrets:
        container["envFrom"] = [{"secretRef": {"name": name}} for name in k8s.secrets]
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if k8s.service_account:
        pod["serviceAccountName"] = k8s.service_account
    labels = _labels(plan, pipeline.name)
    manifest: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": plan.object_name(pipeline.name), "namespace": k8s.namespace, "labels": labels},
        "spec": {
            "schedule": pipeline.cron,
            "timeZone": plan.timezone,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": k8s.starting_deadline_s,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": plan.retries,
                                     "template": {"metadata": {"labels": labels}, "spec": pod}}},
        },
    }
    check_core_object(manifest, manifest["metadata"]["name"])
    return manifest


def serving(plan: ExportPlan) -> dict[str, Manifest]:
    """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget of `conveyor serve`."""
    k8s = plan.kubernetes
    pods = k8s.serve
    name = plan.object_name("serve")
    labels = _labels(plan, "serve")
    selector = {"app.kubernetes.io/name": plan.model, "app.kubernetes.io/component": "serve",
                "conveyor.dev/stand": plan.env}
    resources = {"cpu": pods.cpu, "memory": pods.memory}
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}
    container: dict[str, Any] = {
        "name": "serve",
        "image": _image(plan),
        "args": ["conveyor", "serve", "--project", plan.project, "--env", plan.env, "--host", "0.0.0.0",
                 "--port", str(SERVE_PORT), "--workers", "1"],
        "ports": [{"name": "http", "containerPort": SERVE_PORT}],
        "livenessProbe": probe,
        "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "startupProbe": {**probe, "failureThreshold": 60},
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(pods.drain_s)]}}},
        "resources": {"requests": resources, "limits": resources},
    }
    if k8s.secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in k8s.secrets]
    pod: dict[str, Any] = {"terminationGracePeriodSeconds": pods.drain_s + 30, "containers": [container]}
    if k8s.service_account:
        pod["serviceAccountName"] = k8s.service_account
    meta = {"name": name, "namespace": k8s.namespace, "labels": labels}
    objects: dict[str, Manifest] = {
        "deployment": {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {
                "replicas": pods.replicas,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {
                        "prometheus.io/scrape": "true", "prometheus.io/port": str(SERVE_PORT),
                        "prometheus.io/path": "/metrics"}},
                    "spec": pod,
                },
            },
        },
        "service": {
            "apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        "hpa": {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": pods.replicas, "maxReplicas": pods.max_replicas,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": pods.target_cpu}}}],
            },
        },
        "pdb": {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
            "spec": {"minAvailable": pods.min_available, "selector": {"matchLabels": selector}},
        },
    }
    for kind, manifest in objects.items():
        check_core_object(manifest, f"{name} ({kind})")
    return objects


def _pack(plan: ExportPlan) -> str:
    if not plan.pack_uri:
        raise ExportError(
            "the jobs run in the stand's environment pack, and none is known", field="--pack",
            hint="pass --pack URI (`conveyor pack` prints it); `conveyor release` packs the version the "
            "stand serves once one is registered",
        )
    return plan.pack_uri


def _image(plan: ExportPlan) -> str:
    if not plan.kubernetes.image:
        raise ExportError(
            "the pods need a container image (with Spark and conveyor)", field="export.kubernetes.image",
            hint="set export.kubernetes.image in conveyor.yaml, e.g. registry.example.com/conveyor-spark:4.0",
        )
    return plan.kubernetes.image


def _restart_policy(plan: ExportPlan, airflow_step: bool) -> dict[str, Any]:
    if airflow_step or plan.retries == 0:  # Airflow retries its task: one attempt per try
        return {"type": "Never"}
    delay = max(1, round(plan.retry_delay_s))
    return {"type": "OnFailure", "onFailureRetries": plan.retries, "onFailureRetryInterval": delay,
            "onSubmissionFailureRetries": plan.retries, "onSubmissionFailureRetryInterval": delay}


def _labels(plan: ExportPlan, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": plan.model, "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "conveyor", "conveyor.dev/stand": plan.env}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _as(kind: type, raw: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw  # left as written: the CRD check names the field
