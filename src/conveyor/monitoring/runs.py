"""The monitoring runs a model has had (MLflow experiment ``<model>-monitoring``), read back.

Each run's metrics are its stored summary in numbers (``monitor._log_metrics``): the
statistic that decided each feature's verdict (``drift.<column>.decided_by.<test>``),
performance (``performance.<metric>``) and fairness (``fairness.<column>.<metric>``). One
search reads a page of runs with all of them: what the dashboard charts over time, never the
raw data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.core import tags
from conveyor.monitoring.monitor import (
    DRIFT_TAG,
    EXPERIMENT_SUFFIX,
    MONITORED_VERSION,
    NOTE_TAG,
    REPORT_ARTIFACT,
    VERDICT_TAG,
)
from conveyor.stack.tracking import next_page

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

_DECIDED = re.compile(r"^drift\.(?P<column>.+)\.decided_by\.(?P<test>[A-Za-z0-9_]+)$")
_DRIFTED = re.compile(r"^drift\.(?P<column>.+)\.drifted$")


@dataclass(frozen=True)
class FeatureScore:
    """One feature's drift in one run: the statistic that decided, its value, the verdict."""

    test: str
    score: float
    drifted: bool | None


@dataclass(frozen=True)
class MonitoringRun:
    run_id: str
    at: datetime
    status: str  # MLflow's: FINISHED, FAILED, KILLED, RUNNING
    version: str | None  # the version monitored
    verdict: str  # drift | no drift | insufficient data
    drift: bool | None
    note: str  # the verdict sentence
    retrain_version: str | None  # the version a retrain it asked for registered
    drift_share: float | None
    features: dict[str, FeatureScore] = field(default_factory=dict)
    performance: dict[str, float] = field(default_factory=dict)
    fairness: dict[str, float] = field(default_factory=dict)  # "<column>.<metric>" → value
    report: str = REPORT_ARTIFACT  # the run's HTML report, an artifact path

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "at": self.at.isoformat(), "status": self.status,
            "version": self.version, "verdict": self.verdict, "drift": self.drift, "note": self.note,
            "retrain_version": self.retrain_version, "drift_share": self.drift_share,
            "features": {name: {"test": f.test, "score": f.score, "drifted": f.drifted}
                         for name, f in self.features.items()},
            "performance": self.performance, "fairness": self.fairness,
        }

    @classmethod
    def of(cls, run: Run) -> MonitoringRun:
        t, metrics = run.data.tags, dict(run.data.metrics)
        drifted = {m["column"]: value for key, value in metrics.items() if (m := _DRIFTED.match(key))}
        features = {
            m["column"]: FeatureScore(m["test"], value, None if m["column"] not in drifted
                                      else drifted[m["column"]] > 0.5)
            for key, value in metrics.items() if (m := _DECIDED.match(key))
        }
        flag = t.get(DRIFT_TAG)
        return cls(
            run_id=run.info.run_id,
            at=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
            status=run.info.status,
            version=t.get(MONITORED_VERSION),
            verdict=t.get(VERDICT_TAG, "?"),
            drift=None if flag not in ("true", "false") else flag == "true",
            note=t.get(NOTE_TAG, ""),
            retrain_version=t.get(tags.RETRAIN_VERSION),
            drift_share=metrics.get("drift.share"),
            features=dict(sorted(features.items())),
            performance={k.removeprefix("performance."): v for k, v in sorted(metrics.items())
                         if k.startswith("performance.") and k != "performance.degraded"},
            fairness={k.removeprefix("fairness."): v for k, v in sorted(metrics.items())
                      if k.startswith("fairness.")},
        )


class MonitoringRuns:
    """One model's monitoring runs on one stand, newest first."""

    def __init__(self, client: MlflowClient, model: str) -> None:
        self.client = client
        self.model = model

    @property
    def experiment_name(self) -> str:
        return f"{self.model}{EXPERIMENT_SUFFIX}"

    def page(self, limit: int = 50, token: str | None = None) -> tuple[list[MonitoringRun], str | None]:
        """The next ``limit`` runs, newest first, from ``token`` (None: the newest), and the
        token of the page after (None: the last). No experiment yet: no runs."""
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            return [], None
        runs = self.client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"],
                                       max_results=limit, page_token=token)
        return [MonitoringRun.of(run) for run in runs], next_page(runs)

    def get(self, run_id: str) -> MonitoringRun | None:
        """One run of this model's monitoring (None: no such run, or another experiment's)."""
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            return None
        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            return None
        return MonitoringRun.of(run) if run.info.experiment_id == experiment.experiment_id else None

    def report(self, run_id: str) -> str | None:
        """The run's HTML report (None: the run wrote none)."""
        import tempfile
        from pathlib import Path

        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory() as folder:
            try:
                path = self.client.download_artifacts(run_id, REPORT_ARTIFACT, folder)
            except (MlflowException, OSError):
                return None
            return Path(path).read_text(encoding="utf-8")
