"""What one stand's exports hold, read once from the loaded config: the model, the stand, the
scheduled pipelines (train, batch, monitor, and retrain when monitoring asks for it), retries,
owner and tags, where the project lives on the machines that run the tasks, and the pack the
tasks run in. Airflow DAG files and Kubernetes manifests are both rendered from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.core.errors import ExportError

if TYPE_CHECKING:
    from conveyor.core.config.loader import LoadedConfig
    from conveyor.core.config.schema import KubernetesSpec, SparkSpec

PIPELINES = ("train", "batch", "monitor")  # the pipelines with a schedule of their own
RETRAIN = "retrain"
ENTRYPOINT = "conveyor_job.py"  # the driver program of the SparkApplications (exports/conveyor_job.py)


@dataclass(frozen=True)
class Scheduled:
    """A pipeline and its cron (``retrain`` has none: monitoring's drift outcome starts it)."""

    name: str
    cron: str | None
    spark: bool = False  # its jobs run as SparkApplications


@dataclass(frozen=True)
class ExportPlan:
    model: str
    env: str
    project: str  # the project folder where the tasks run
    pipelines: tuple[Scheduled, ...]
    skipped: tuple[str, ...]  # why a pipeline has no DAG / CronJob, one line each
    timezone: str
    retries: int
    retry_delay_s: float
    owner: str
    tags: tuple[str, ...]
    first_stage: str
    batch_model: str | None  # churn@prod: what the batch pipeline scores
    kubernetes: KubernetesSpec
    spark: SparkSpec | None
    entrypoint_uri: str  # where the release publishes conveyor_job.py (the stand's artifact store)
    pack_uri: str | None = None  # the tasks run inside this pack (`conveyor job run --env-pack`)
    airflow: bool = True  # the stand runs its schedules in Airflow (else Kubernetes CronJobs)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pipelines)

    def dag_id(self, pipeline: str) -> str:
        return f"{self.model}_{pipeline}".replace("-", "_").replace(".", "_")

    def object_name(self, pipeline: str) -> str:
        """A Kubernetes object name: lowercase, ``-`` separated, the model, stand and pipeline."""
        raw = f"{self.model}-{self.env}-{pipeline}".lower()
        return "".join(c if c.isalnum() else "-" for c in raw).strip("-")[:63]


def export_plan(loaded: LoadedConfig, *, pack_uri: str | None = None) -> ExportPlan:
    """The plan for the loaded stand; an ExportError when nothing is scheduled, so no DAG or
    CronJob that never runs is ever written."""
    config = loaded.config
    if loaded.env_name is None:
        raise ExportError(
            "say which stand to export", field="--env",
            hint=f"pass --env NAME, one of: {', '.join(sorted(config.environments)) or 'none defined'}",
        )
    crons = {  # in PIPELINES' order
        "train": config.train.schedule,
        "batch": config.batch.schedule if config.batch else None,
        "monitor": config.monitor.schedule,
    }
    spark = set(config.export.spark)
    pipelines = [Scheduled(name, cron, name in spark) for name, cron in crons.items() if cron]
    skipped = [f"{name}: no {name}.schedule, so no {name} pipeline is exported" for name, cron in crons.items()
               if not cron]
    if not pipelines:
        raise ExportError(
            "no pipeline of the config has a schedule: an exported DAG or CronJob would never run",
            field="train.schedule",
            hint="give train.schedule, batch.schedule or monitor.schedule a cron, e.g. \"0 3 * * *\"",
        )
    if config.monitor.schedule and "retrain" in config.monitor.on_drift:
        pipelines.append(Scheduled(RETRAIN, None, "train" in spark))
    elif config.monitor.schedule:
        skipped.append("retrain: monitor.on_drift does not list retrain, so drift starts no retrain")
    batch = config.batch
    return ExportPlan(
        model=config.name,
        env=loaded.env_name,
        project=config.export.project or str(Path(loaded.project_dir).resolve()),
        pipelines=tuple(pipelines),
        skipped=tuple(skipped),
        timezone=config.scheduler.timezone,
        retries=config.scheduler.retries,
        retry_delay_s=config.scheduler.backoff_s,
        owner=config.export.owner,
        tags=tuple(config.export.tags),
        first_stage=config.stages[0],
        batch_model=f"{config.name}@{batch.stage or config.stages[-1]}" if batch else None,
        kubernetes=config.export.kubernetes,
        spark=config.runtime.spark if config.runtime else None,
        entrypoint_uri=spark_uri(entrypoint_location(loaded)),
        pack_uri=pack_uri,
        airflow=loaded.environment.dags is not None,
    )


def entrypoint_location(loaded: LoadedConfig) -> str:
    """Where ``conveyor release`` publishes the SparkApplications' driver program: under
    ``exports/<model>/`` of the stand's artifact store."""
    store = loaded.environment.artifact_store or str(Path(loaded.project_dir).resolve() / ".conveyor" / "artifacts")
    return f"{store.rstrip('/')}/exports/{loaded.config.name}/{ENTRYPOINT}"


def spark_uri(uri: str) -> str:
    """Spark reads S3 through the s3a:// connector."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri
