"""Airflow 3 DAG files (``airflow.sdk``) for one stand: a DAG per scheduled pipeline.

    <model>_train     train → gate (registers the version with its verdict) → promote_<first stage>,
                      the MLflow run id and the version handed over by XCom
    <model>_batch     score <model>@<stage> into the run's own slot output (resumable); a
                      SparkKubernetesOperator on the exported SparkApplication with
                      ``export.spark: [batch]``
    <model>_monitor   monitor → request_retrain: on drift that asks for a retrain, an event on
                      the Asset ``<model>_<stand>_retrain_requested`` (skipped otherwise)
    <model>_retrain   scheduled on that Asset: the retrain job of the latest request

Every DAG sets ``schedule``, ``catchup=False``, ``max_active_runs=1``, the owner and the
retries of ``scheduler.retries`` / ``scheduler.backoff_s``. A task runs one conveyor job
(``conveyor job run -``, in the stand's pack with ``--env-pack``); the file holds no model
code and no secret values. The text depends on the plan alone: the same config gives the
same bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from conveyor.exports.plan import RETRAIN, ExportPlan, Scheduled

if TYPE_CHECKING:
    from collections.abc import Callable

START_DATE = "datetime(2024, 1, 1, tzinfo=timezone.utc)"  # fixed: catchup=False runs the latest slot only
SPARK_SUFFIX = ".sparkapplication.yaml"

_HEADER = '''"""{model} on stand {stand}: the {pipeline} pipeline ({what}).

Written by `conveyor export airflow`; do not edit: change conveyor.yaml and export again.
Each task runs one conveyor job (`conveyor job run`) in the stand's environment pack; the
${{VAR}}s of conveyor.yaml are resolved in the task's environment, never written here.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

{imports}

PROJECT = {project}
ENV = {env}
PACK = {pack}
{assets}

def run_job(spec: dict) -> dict:
    """Run one conveyor job and return its result; the task fails with the job's error, and
    without retries when the job decided (a gate that refused the version: the same data would
    give the same verdict)."""
    command = [os.environ.get("CONVEYOR_BIN", "conveyor"), "job", "run", "-"]
    if PACK:
        command += ["--env-pack", PACK]
    spec = {{"project": PROJECT, "env": ENV, **spec}}
    done = subprocess.run(command, input=json.dumps(spec), stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{{")]
    answer = json.loads(lines[-1]) if lines else {{}}
    if done.returncode == 0 and answer.get("ok"):
        return answer["result"]
    error = answer.get("error") or answer.get("result", {{}}).get("detail") or "no result line (see the log above)"
    message = f"{{spec['kind']}} job failed (exit {{done.returncode}}): {{error}}"
    if answer.get("result"):  # the job ran and decided (a gate refused, a retrain declined)
        raise AirflowFailException(message)
    raise RuntimeError(message)

'''

_DAG = '''
@dag(
    dag_id="{dag_id}",
    description={description},
    schedule={schedule},
    start_date={start},
    catchup=False,
    max_active_runs=1,
    default_args={{"owner": {owner}, "retries": {retries}, "retry_delay": timedelta(seconds={delay!r})}},
    tags={tags},
)
def {dag_id}():
{body}


{dag_id}()
'''

_TRAIN = '''    @task
    def train() -> str:
        """Train: a finished MLflow run with the model, metrics and baseline profile."""
        return str(run_job({{"kind": "train"}})["run_id"])

    @task
    def gate(mlflow_run_id: str) -> str:
        """The quality gate on the MLflow run; registers the version with its verdict."""
        return str(run_job({{"kind": "gate", "run_id": mlflow_run_id, "promote": False}})["version"])

    @task(task_id={promote_id})
    def promote(version: str) -> dict:
        """The version that passed the gate takes the first stage."""
        return run_job({{"kind": "promote", "to": {stage}, "version": version, "reason": "passed the quality gate"}})

    promote(gate(train()))'''

_BATCH = '''    @task
    def score(**context) -> dict:
        """Score the stage's version into this run's own slot output (a rerun resumes it)."""
        at = context["logical_date"] or context["dag_run"].run_after
        slot = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H%MZ")
        return run_job({{"kind": "score", "model": {model}, "slot": slot, "resume": True}})

    score()'''

_BATCH_SPARK = '''    SparkKubernetesOperator(
        task_id="score",
        application_file={manifest},
        namespace={namespace},
        kubernetes_conn_id="kubernetes_default",
    )'''

_MONITOR = '''    @task
    def monitor() -> dict:
        """Drift, performance and fairness of the watched version; a monitoring run in MLflow."""
        return run_job({{"kind": "monitor"}})

    @task(outlets=[RETRAIN_REQUESTED])
    def request_retrain(result: dict, **context) -> None:
        """On drift that asks for a retrain: an event on the Asset, which schedules {retrain}."""
        request = result.get("retrain_requested")
        if not request:
            reasons = "; ".join(result.get("reasons") or []) or "no drift"
            raise AirflowSkipException(f"no retrain requested: {{reasons}}")
        context["outlet_events"][RETRAIN_REQUESTED].extra = request

    request_retrain(monitor())'''

_MONITOR_ONLY = '''    @task
    def monitor() -> dict:
        """Drift, performance and fairness of the watched version; a monitoring run in MLflow."""
        return run_job({{"kind": "monitor"}})

    monitor()'''

_RETRAIN = '''    @task(inlets=[RETRAIN_REQUESTED])
    def retrain(**context) -> dict:
        """Retrain as the latest request asks (train → gate → first stage)."""
        events = context["inlet_events"][RETRAIN_REQUESTED]
        if not events:
            raise AirflowFailException("no retrain request on the Asset: {monitor} requests one on drift")
        return run_job({{"kind": "retrain", **events[-1].extra}})

    retrain()'''

_WHAT = {
    "train": "train → gate → first stage",
    "batch": "scheduled batch scoring",
    "monitor": "drift monitoring, requesting retrains",
    RETRAIN: "retraining when monitoring asks for it",
}


def asset_name(plan: ExportPlan) -> str:
    return plan.dag_id(f"{plan.env}_retrain_requested")


def asset_uri(plan: ExportPlan) -> str:
    return f"conveyor://{plan.model}/{plan.env}/retrain-requested"


def spark_manifest_name(plan: ExportPlan, pipeline: str) -> str:
    """The SparkApplication file a Spark step reads (beside the DAG file, in the DAG folder)."""
    return f"{plan.dag_id(pipeline)}{SPARK_SUFFIX}"


def dag_files(plan: ExportPlan) -> dict[str, str]:
    """File name → text of every DAG of the plan."""
    return {f"{plan.dag_id(p.name)}.py": dag_file(plan, p) for p in plan.pipelines}


def dag_file(plan: ExportPlan, pipeline: Scheduled) -> str:
    body, imports = _BODIES[pipeline.name](plan, pipeline)
    uses_asset = pipeline.name == RETRAIN or (pipeline.name == "monitor" and RETRAIN in plan.names)
    assets = (f"RETRAIN_REQUESTED = Asset(name={_py(asset_name(plan))}, uri={_py(asset_uri(plan))})\n"
              if uses_asset else "")
    sdk = ["dag", "task", *(["Asset"] if uses_asset else [])]
    if pipeline.cron is not None:
        sdk.append("CronTriggerTimetable")
    lines = [f"from airflow.sdk import {', '.join(sorted(sdk, key=str.lower))}",
             "from airflow.sdk.exceptions import " + ", ".join(imports), *_extra_imports(plan, pipeline)]
    header = _HEADER.format(model=plan.model, stand=plan.env, pipeline=pipeline.name, what=_WHAT[pipeline.name],
                            imports="\n".join(lines), project=_py(plan.project), env=_py(plan.env), pack=_py(plan.pack_uri),
                            assets=assets)
    schedule = ("[RETRAIN_REQUESTED]" if pipeline.cron is None
                else f"CronTriggerTimetable({_py(pipeline.cron)}, timezone={_py(plan.timezone)})")
    dag = _DAG.format(
        dag_id=plan.dag_id(pipeline.name), description=_py(f"{plan.model} ({plan.env}): {_WHAT[pipeline.name]}"),
        schedule=schedule, start=START_DATE, owner=_py(plan.owner), retries=plan.retries,
        delay=float(plan.retry_delay_s),
        tags=_py(sorted({"conveyor", plan.model, plan.env, pipeline.name, *plan.tags})),
        body=body,
    )
    return header + dag


def _py(value: object) -> str:
    """A Python literal of a string, a list of strings or None, in double quotes."""
    if value is None:
        return "None"
    if isinstance(value, list):
        return "[" + ", ".join(_py(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _extra_imports(plan: ExportPlan, pipeline: Scheduled) -> list[str]:
    if pipeline.spark:
        return ["from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator"]
    return []


def _train(plan: ExportPlan, pipeline: Scheduled) -> tuple[str, list[str]]:
    return (_TRAIN.format(promote_id=_py(f"promote_{plan.first_stage}"), stage=_py(plan.first_stage)),
            ["AirflowFailException"])


def _batch(plan: ExportPlan, pipeline: Scheduled) -> tuple[str, list[str]]:
    if pipeline.spark:
        return (_BATCH_SPARK.format(manifest=_py(spark_manifest_name(plan, "batch")),
                                    namespace=_py(plan.kubernetes.namespace)), ["AirflowFailException"])
    return _BATCH.format(model=_py(plan.batch_model)), ["AirflowFailException"]


def _monitor(plan: ExportPlan, pipeline: Scheduled) -> tuple[str, list[str]]:
    if RETRAIN not in plan.names:
        return _MONITOR_ONLY.format(), ["AirflowFailException"]
    return _MONITOR.format(retrain=plan.dag_id(RETRAIN)), ["AirflowFailException", "AirflowSkipException"]


def _retrain(plan: ExportPlan, pipeline: Scheduled) -> tuple[str, list[str]]:
    return _RETRAIN.format(monitor=plan.dag_id("monitor")), ["AirflowFailException"]


_BODIES: dict[str, Callable[[ExportPlan, Scheduled], tuple[str, list[str]]]] = {
    "train": _train, "batch": _batch, "monitor": _monitor, RETRAIN: _retrain,
}


def spark_job_spec(plan: ExportPlan, pipeline: str) -> str:
    """The job spec a Spark step's driver runs, as JSON; a batch slot is the Airflow run's
    logical date (a Jinja template the operator renders)."""
    spec: dict[str, object] = {"project": plan.project, "env": plan.env}
    if pipeline == "batch":
        spec |= {"kind": "score", "model": plan.batch_model, "engine": "spark", "resume": True,
                 "slot": "{{ (logical_date or dag_run.run_after).strftime('%Y-%m-%dT%H%MZ') }}"}
    return json.dumps(spec, separators=(",", ":"))


def airflow_files(plan: ExportPlan) -> dict[str, str]:
    """The DAG folder's files: the DAGs and, for Spark steps, their SparkApplications."""
    from conveyor.exports.k8s import spark_application, to_yaml

    files = dag_files(plan)
    for pipeline in plan.pipelines:
        if pipeline.spark:
            spec = json.loads(spark_job_spec(plan, pipeline.name))
            manifest = spark_application(plan, pipeline.name, spec=spec, airflow_step=True)
            files[spark_manifest_name(plan, pipeline.name)] = to_yaml(manifest)
    return files
