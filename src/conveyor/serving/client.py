"""A small client for a running server's admin endpoints (used by `conveyor traffic` and
`conveyor rollout`)."""

from __future__ import annotations

from typing import Any, cast

from conveyor.core.errors import AdminError


class AdminClient:
    def __init__(self, url: str, token: str | None, *, timeout: float = 10.0, transport: Any = None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def status(self, model: str) -> dict[str, Any]:
        return self._call("GET", f"/admin/models/{model}")

    def set_weights(self, model: str, weights: dict[str, float]) -> dict[str, Any]:
        return self._call("PUT", f"/admin/models/{model}/traffic", json={"weights": weights})

    def reload(self, model: str) -> dict[str, Any]:
        return self._call("POST", f"/admin/models/{model}/reload")

    def metrics(self) -> str:
        import httpx

        try:
            response = self.http.get("/metrics")
        except httpx.HTTPError as exc:
            raise AdminError(f"cannot reach {self.url}: {exc}") from None
        return response.text

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminError(
                f"cannot reach the server at {self.url}: {type(exc).__name__}",
                hint="start it with `conveyor serve`, or pass --url",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        if response.status_code >= 400:
            raise AdminError(
                f"{method} {path} → {response.status_code}: {body.get('message', body)}",
                hint=body.get("hint") or (
                    "pass --token or set CONVEYOR_TOKEN (a token with role deploy)"
                    if response.status_code in (401, 403) else None
                ),
            )
        return cast("dict[str, Any]", body)
