"""The dashboard: pages and JSON endpoints over the registry, the audit log, the endpoint,
the monitoring runs and the run history — at /ui in `conveyor serve`, or alone (`conveyor ui`)."""

from conveyor.dashboard.access import Viewer, local_authenticator
from conveyor.dashboard.app import create_ui_app, mount
from conveyor.dashboard.canary import Canaries
from conveyor.dashboard.context import DashboardContext, DeferredContext
from conveyor.dashboard.live import Live, RemoteLive, ServedLive

__all__ = [
    "Canaries",
    "DashboardContext",
    "DeferredContext",
    "Live",
    "RemoteLive",
    "ServedLive",
    "Viewer",
    "create_ui_app",
    "local_authenticator",
    "mount",
]
