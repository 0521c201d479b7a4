"""The composition root: config → stack → MLflow client → registry, promoter → services.

:class:`Project` is the Python API (``Project.load(path, env=...)``, methods named like the
commands). It is the only place that builds the pieces and hands each feature what it
needs (a :class:`~conveyor.lifecycle.context.LifecycleContext`); no feature imports it, and
only the CLI and users' code do.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from conveyor.core.config.loader import LoadedConfig, load_config
from conveyor.lifecycle.progress import Reporter, SilentReporter
from conveyor.stack.resolve import Stack, resolve_stack

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from conveyor.batch.job import BatchResult
    from conveyor.dashboard import DashboardContext, Live
    from conveyor.exports.release import ReleaseOptions, ReleaseResult
    from conveyor.jobs import AnySpec, JobResult
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.lifecycle.promotion import Move, Promoter
    from conveyor.lifecycle.registration import TrainResult
    from conveyor.lifecycle.registry import Registry, VersionInfo
    from conveyor.lifecycle.stands import Stand, Stands
    from conveyor.monitoring.monitor import MonitorResult
    from conveyor.packs import PackResult
    from conveyor.scheduling import Clock, Entry, RunHistory, Scheduler
    from conveyor.serving.auth import Authenticator
    from conveyor.serving.context import ServingContext
    from conveyor.serving.service import Service
    from conveyor.stack.artifacts import ArtifactStore
    from conveyor.stack.locks import MoveLock


class Project:
    """One conveyor project (a folder with conveyor.yaml) in one environment."""

    def __init__(
        self, loaded: LoadedConfig, notify: Callable[[str], None] | None = None, *, reap_orphans: bool = True
    ) -> None:
        self.loaded = loaded
        self.reap_orphans = reap_orphans  # a serving worker leaves it to the command that started it
        self.config = loaded.config
        self.stack: Stack = resolve_stack(loaded)
        self.notify = notify or _log_notice  # one line about something done on the side
        for notice in loaded.notices:  # e.g. traffic weights rescaled to 100
            self.notify(notice)

    @classmethod
    def load(cls, path: str | Path | None = None, env: str | None = None,
             notify: Callable[[str], None] | None = None, *, reap_orphans: bool = True) -> Project:
        return cls(load_config(path, env=env), notify, reap_orphans=reap_orphans)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def path(self) -> Path:
        return self.loaded.project_dir

    # -- the pieces, built once -------------------------------------------------------

    @cached_property
    def client(self) -> MlflowClient:
        """The stack's client; connecting marks KILLED the model's runs left RUNNING by a
        process that is gone (each said in one line)."""
        from conveyor.lifecycle.orphans import reap_orphans
        from conveyor.stack.tracking import connect

        client = connect(self.stack)
        for reaped in reap_orphans(client, self.name) if self.reap_orphans else []:
            self.notify(reaped.line(self.name))
        return client

    @cached_property
    def artifacts(self) -> ArtifactStore:
        from conveyor.stack.artifacts import ArtifactStore

        return ArtifactStore(self.stack.artifact_store)

    @cached_property
    def registry(self) -> Registry:
        from conveyor.lifecycle.registry import Registry

        return Registry(self.client)

    @cached_property
    def audit_log(self) -> AuditLog:
        from conveyor.lifecycle.audit import AuditLog

        return AuditLog(self.artifacts)

    @cached_property
    def promoter(self) -> Promoter:
        from conveyor.lifecycle.promotion import Promoter

        return Promoter(self.stands, self.config.stages)

    @cached_property
    def stands(self) -> Stands:
        """Which stand each stage lives on: this project's stack, and the `environments`
        entries stages are mapped to (connected when a move first needs them)."""
        from conveyor.lifecycle.stands import Stand, Stands

        current = Stand(self.loaded.env_name, self.stack, self.registry, self.audit_log, self.move_lock)
        return Stands(current, self.config.stage_envs, self._open_stand)

    def _open_stand(self, env: str) -> Stand:
        """Another stand's stores: its settings resolved now (its ${VAR}s too), its tracking
        store and artifact store probed, its own client, audit log and move lock."""
        from conveyor.lifecycle.audit import AuditLog
        from conveyor.lifecycle.registry import Registry
        from conveyor.lifecycle.stands import Stand
        from conveyor.stack.artifacts import ArtifactStore
        from conveyor.stack.locks import move_lock
        from conveyor.stack.tracking import connect

        stack = resolve_stack(self.loaded, self.loaded.environment_of(env))
        client = connect(stack)
        artifacts = ArtifactStore(stack.artifact_store)
        artifacts.probe()
        return Stand(env, stack, Registry(client), AuditLog(artifacts), move_lock(stack))

    @cached_property
    def move_lock(self) -> MoveLock:
        """Serialises this model's promotions, rollbacks and traffic changes (stack/locks.py)."""
        from conveyor.stack.locks import move_lock

        return move_lock(self.stack)

    @cached_property
    def lifecycle(self) -> LifecycleContext:
        """What every feature gets: config, stack, client, registry, promoter."""
        from conveyor.lifecycle.context import LifecycleContext

        return LifecycleContext(self.loaded, self.stack, self.client, self.registry, self.promoter)

    @cached_property
    def serving(self) -> ServingContext:
        """What `conveyor serve` and the serving app get."""
        from conveyor.serving.context import ServingContext

        return ServingContext.of(self.loaded, self.client, self.artifacts, self.move_lock)

    def dashboard(self, live: Live, authenticator: Callable[[], Authenticator] | None = None) -> DashboardContext:
        """What the dashboard gets: the registry, audit log, stands and promoter, the run
        history and the monitoring runs of this stand, the endpoint (``live``) and who a
        token is (default: the config's tokens and the local one `conveyor serve` writes)."""
        from conveyor.dashboard import Canaries, DashboardContext, local_authenticator
        from conveyor.monitoring.runs import MonitoringRuns
        from conveyor.serving.context import state_dir

        tracking = self.stack.tracking_uri
        return DashboardContext(
            config=self.config, environment=self.loaded.env_name, registry=self.registry,
            audit=self.audit_log, stands=self.stands, promoter=self.promoter, history=self.history(),
            monitoring=MonitoringRuns(self.client, self.name), live=live,
            canaries=Canaries(self.artifacts, self.audit_log, self.config.serve.rollout, self.loaded.env_name),
            authenticator=authenticator or local_authenticator(self.config.serve.auth, state_dir(self.path)),
            tracking_ui=tracking if tracking.startswith(("http://", "https://")) else None,
        )

    def mount_dashboard(self, app: Any, service: Service) -> None:
        """The dashboard at /ui on a serving worker's app (a `ServingContext` extension):
        the worker's own endpoint, its tokens."""
        from conveyor.dashboard import DashboardContext, DeferredContext, ServedLive, mount

        def authenticator() -> Authenticator:
            return service.auth

        # built on the first panel asked for: a worker connects to the registry only then
        deferred = DeferredContext(self.config, authenticator,
                                   lambda: self.dashboard(ServedLive(service), authenticator))
        mount(app, cast(DashboardContext, deferred))

    def history(self, name: str | None = None) -> RunHistory:
        """The run history of the model's scheduled pipelines (MLflow experiment <model>-runs)
        on the history's stand (``scheduler.history_env``, default the first stage's), shared
        by the schedulers of every stand; entries are tagged with the stand that ran them."""
        from conveyor.scheduling import RunHistory

        home = self.stands.of_env(self.config.history_env, "the scheduler's run history")
        return RunHistory(home.client, name or self.name, home.stack.mlflow_artifact_root, self.loaded.env_name)

    def scheduler(self, clock: Clock | None = None, notify: Callable[[str], None] | None = None) -> Scheduler:
        """The embedded scheduler of this project and stand (`conveyor scheduler`); leases in
        the stand's artifact store, history on the history's stand (:meth:`history`)."""
        from conveyor.scheduling import Scheduler, SchedulerContext
        from conveyor.stack.leases import Leases

        context = SchedulerContext(self.lifecycle, self.history(), Leases(self.stack.artifact_store))
        return Scheduler(context, clock, notify=notify or self.notify)

    # -- the operations ---------------------------------------------------------------

    def train(self, reporter: Reporter | None = None, tags: dict[str, str] | None = None) -> TrainResult:
        """Train, evaluate, gate and register; raises GateFailedError if the gate fails."""
        from conveyor.lifecycle.preflight import prepare_training
        from conveyor.lifecycle.retraining import train_and_gate

        reporter = reporter or SilentReporter()
        inputs = prepare_training(self.loaded, reporter)  # config, data, entrypoint: no store yet
        with reporter.step("connect to the tracking store"):
            context = self.lifecycle  # connect (and migrate an embedded store) up front
        return train_and_gate(context, reporter, tags, inputs=inputs)

    def models(self, name: str | None = None, limit: int = 50) -> list[VersionInfo]:
        return self.registry.versions(name or self.name, limit=limit)

    def promote(
        self,
        to: str,
        version: str | int | None = None,
        *,
        name: str | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> Move:
        from conveyor.lifecycle.promotion import check_move

        check_move(self.config.stages, to, force=force, reason=reason)  # before connecting
        return self.promoter.promote(
            name or self.name, to, None if version is None else str(version), force=force, reason=reason
        )

    def rollback(self, stage: str, *, name: str | None = None, reason: str | None = None) -> Move:
        from conveyor.lifecycle.promotion import check_move

        check_move(self.config.stages, stage)
        return self.promoter.rollback(name or self.name, stage, reason=reason)

    def audit(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.audit_log.events(name or self.name)

    def predict(self, model: str, input: str | None = None, output: str | None = None,
                **options: Any) -> BatchResult:
        """Batch-score ``input`` with ``model`` (``churn@prod``); see `conveyor.batch.predict`."""
        from conveyor.batch.job import predict

        return predict(self.lifecycle, model, input, output, **options)

    def monitor(self, model: str | None = None, *, reporter: Reporter | None = None,
                **options: Any) -> MonitorResult:
        """One monitoring run (drift, performance, fairness); a retrain it requests is run
        here, and its outcome recorded on the monitoring run."""
        from conveyor.lifecycle.retraining import retrain
        from conveyor.monitoring.monitor import (
            published,
            record_retrain,
            run_monitor,
            start_reading,
        )

        reporter = reporter or SilentReporter()
        # the data's rows are read while the store connects (importing MLflow takes seconds)
        ahead = start_reading(self.path, self.config.monitor, options.get("data"), window=options.get("window"),
                              engine=options.get("engine"), storage_options=options.get("storage_options"))
        result = run_monitor(self.lifecycle, model, reporter=reporter, read_ahead=ahead, **options)
        if result.retrain is not None:
            with reporter.step("retrain"):
                outcome = retrain(self.lifecycle, result.retrain, reporter)
            outcome.detail = self.loaded.secrets.redact(outcome.detail)
            result.triggers.append(outcome)
            record_retrain(self.client, result.run_id, outcome, published(result, self.loaded.secrets))
        return result

    def runs(self, name: str | None = None, pipeline: str | None = None, limit: int = 50) -> list[Entry]:
        """The latest runs of the scheduled pipelines, newest first (`conveyor runs`)."""
        return self.history(name).entries(pipeline, limit)

    def pack(self, model: str | None = None, version: str | int | None = None,
             reporter: Reporter | None = None) -> PackResult:
        """The version's environment as a pack in the artifact store, recorded on the version
        (``conveyor.pack.*`` tags); an identical environment already stored is reused."""
        from conveyor.jobs.packs import pack

        return pack(self.lifecycle, model, None if version is None else str(version),
                    reporter or SilentReporter())

    def release(self, options: ReleaseOptions, reporter: Reporter | None = None) -> ReleaseResult:
        """`conveyor release`: tests → pack → export → publish, recorded in the audit log."""
        from conveyor.exports.release import release

        return release(self.lifecycle, self.audit_log, options, reporter or SilentReporter())

    def run_job(self, spec: AnySpec, reporter: Reporter | None = None) -> JobResult:
        """Run one job spec against this project (the spec's project and env are this one's);
        in an Airflow task, recorded in the run history too (trigger ``airflow``)."""
        from conveyor.jobs import run_job
        from conveyor.scheduling.airflow_tasks import AirflowTask, run_recorded

        def run() -> JobResult:
            return run_job(spec, self.lifecycle, reporter or SilentReporter())

        task = AirflowTask.current()
        return run() if task is None else run_recorded(self.history(), task, spec, run)


def _log_notice(message: str) -> None:
    import logging

    logging.getLogger("conveyor").warning(message)


def serving_worker_context(project_dir: str, env: str | None) -> ServingContext:
    """The serving context of one `conveyor serve` worker process (uvicorn spawns it and
    imports this function by name). No registry client: the worker serves what the
    supervisor loaded (serving/feed.py) and connects only for a model that does not pickle."""
    from conveyor.serving.context import ServingContext
    from conveyor.serving.traffic import DeferredMoveLock

    # `conveyor serve` reaped orphaned runs once before it started the workers
    project = Project.load(project_dir, env=env, reap_orphans=False)
    return ServingContext(
        project.config, None, project.artifacts, project.loaded.project_dir, project.loaded.env_name,
        DeferredMoveLock(lambda: project.move_lock), connector=lambda: project.client,
        extensions=(project.mount_dashboard,),
    )
