"""What the dashboard reads and acts on, handed in by the composition root (`app.py`).

The same context serves `conveyor serve` (the dashboard mounted at /ui beside the endpoint;
:class:`~conveyor.dashboard.live.ServedLive`) and `conveyor ui` (the dashboard alone; it
reads a running server's state and passes actions on to its admin API,
:class:`~conveyor.dashboard.live.RemoteLive`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.core.config.schema import ProjectConfig
    from conveyor.dashboard.canary import Canaries
    from conveyor.dashboard.live import Live
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.lifecycle.promotion import Promoter
    from conveyor.lifecycle.registry import Registry
    from conveyor.lifecycle.stands import Stands
    from conveyor.monitoring.runs import MonitoringRuns
    from conveyor.scheduling import RunHistory
    from conveyor.serving.auth import Authenticator


@dataclass(frozen=True)
class DashboardContext:
    """One project on one stand, as the dashboard sees it."""

    config: ProjectConfig
    environment: str | None  # the stand (None: the default stack)
    registry: Registry  # versions, aliases (`conveyor models`)
    audit: AuditLog  # alias history, traffic changes (`conveyor audit`)
    stands: Stands  # the stand of each stage
    promoter: Promoter  # rollback, as `conveyor rollback`
    history: RunHistory  # pipeline runs (`conveyor runs`)
    monitoring: MonitoringRuns  # monitoring runs' stored summaries
    live: Live  # the endpoint: state, metrics, traffic changes
    canaries: Canaries  # canary rollouts started here
    authenticator: Callable[[], Authenticator]  # who a token is (asked per request)
    tracking_ui: str | None = None  # the MLflow server's address, for links to runs (None: no UI)

    @property
    def model(self) -> str:
        return self.config.name


class DeferredContext:
    """A :class:`DashboardContext` built on its first use, but for ``config``, ``model`` and
    ``authenticator``: a `conveyor serve` worker mounts the dashboard as it starts, yet opens
    the registry (and imports MLflow) only when a panel is first asked for, so a worker that
    serves an inference plan and no dashboard page holds no MLflow, pandas or scikit-learn."""

    def __init__(self, config: ProjectConfig, authenticator: Callable[[], Authenticator],
                 build: Callable[[], DashboardContext]) -> None:
        self.config = config
        self.authenticator = authenticator
        self._build = build
        self._built: DashboardContext | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.config.name

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._built is None:
                self._built = self._build()
        return getattr(self._built, name)
