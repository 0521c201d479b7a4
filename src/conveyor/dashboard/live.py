"""The endpoint as the dashboard sees it: its deployments, weights and shadow, the server's
own Prometheus metrics, and traffic changes.

:class:`ServedLive` is the dashboard mounted in `conveyor serve`: it reads the worker's
service and changes traffic through the admin route's own function
(`serving.admin.set_traffic`). :class:`RemoteLive` is `conveyor ui`: it reads a running
server (`/readyz`, `/metrics`) and changes traffic through the admin API with the viewer's
token, as `conveyor traffic` does (`serving.client.AdminClient`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool

from conveyor.core.errors import AdminError
from conveyor.serving.errors import BadGateway, InvalidInput, NotFound

if TYPE_CHECKING:
    from starlette.requests import Request

    from conveyor.dashboard.access import Viewer
    from conveyor.serving.client import AdminClient
    from conveyor.serving.service import Service


class Live(Protocol):
    def state(self, model: str, viewer: Viewer) -> dict[str, Any]:
        """Deployments (name, target, version, state, weight), weights, shadow."""
        ...

    def metrics(self) -> str:
        """The server's Prometheus metrics, as text (every worker's)."""
        ...

    async def set_weights(self, model: str, weights: object, viewer: Viewer) -> dict[str, Any]:
        """Change the traffic weights (the caller has checked the role); the new state."""
        ...

    def admin_url(self, request: Request) -> str:
        """Where the admin API of the server is (a canary rollout drives it)."""
        ...


class ServedLive:
    """The dashboard in the serving worker: the service itself."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def state(self, model: str, viewer: Viewer) -> dict[str, Any]:
        from conveyor.serving.admin import endpoint_state

        return endpoint_state(self.service, model, viewer.name)

    def metrics(self) -> str:
        return self.service.metrics.render().decode()

    async def set_weights(self, model: str, weights: object, viewer: Viewer) -> dict[str, Any]:
        from conveyor.serving.admin import set_traffic

        return await set_traffic(self.service, model, weights, viewer.name)

    def admin_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")


class RemoteLive:
    """The dashboard alone: a running `conveyor serve` at ``url``."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def state(self, model: str, viewer: Viewer) -> dict[str, Any]:
        import httpx

        headers = {"Authorization": viewer.authorization} if viewer.authorization else {}
        try:
            response = httpx.get(f"{self.url}/readyz", headers=headers, timeout=self.timeout_s)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BadGateway(f"no server answers at {self.url}: {type(exc).__name__}",
                             hint="start it with `conveyor serve`, or give `conveyor ui --server URL`") from None
        models = body.get("models") if isinstance(body, dict) else None
        if not isinstance(models, dict):
            raise BadGateway(f"the server at {self.url} lists its models only to a caller with a token",
                             hint="sign in with a token")
        if model not in models:
            raise NotFound(f"the server at {self.url} does not serve {model!r}")
        return dict(models[model])

    def metrics(self) -> str:
        text: str = self._client(None).metrics()
        return text

    async def set_weights(self, model: str, weights: object, viewer: Viewer) -> dict[str, Any]:
        clean = _weights(weights)
        try:
            return await run_in_threadpool(self._client(viewer.token).set_weights, model, clean)
        except AdminError as exc:
            raise BadGateway(exc.message, hint=exc.hint) from None

    def admin_url(self, request: Request) -> str:
        return self.url

    def _client(self, token: str | None) -> AdminClient:
        from conveyor.serving.client import AdminClient

        return AdminClient(self.url, token, timeout=self.timeout_s)


def _weights(weights: object) -> dict[str, float]:
    """The shape `conveyor traffic` sends (the server checks the names and values again)."""
    from conveyor.serving.traffic import check_weights

    if not isinstance(weights, dict) or not weights or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in weights.values()
    ):
        raise InvalidInput("send {'weights': {'prod': 90, 'staging': 10}}")
    clean = {str(k): float(v) for k, v in weights.items()}
    check_weights(clean)
    return clean
