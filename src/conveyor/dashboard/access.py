"""Who is looking: the token of a request (bearer header, or the session cookie the sign-in
sets) and what its role may do. Pages show only the actions the role grants; every action
is checked again when it is asked for (`Authenticator.check`), as the admin API does.

Viewing follows the endpoint: anyone while predictions are open, else a valid token (any
role). Actions need role deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.serving.errors import Unauthorized, UnsupportedMediaType

if TYPE_CHECKING:
    from starlette.requests import Request

    from conveyor.serving.auth import Authenticator

COOKIE = "conveyor_token"
ACT = "deploy"  # the role every dashboard action needs (as the admin API's routes)
SIGN_IN = "sign in at /ui/login with a token from serve.auth.tokens (or the local one `conveyor " \
          "serve` writes to .conveyor/serving/admin.token)"


@dataclass(frozen=True)
class Viewer:
    name: str | None  # the token's name; None: anonymous
    grants: frozenset[str]
    authorization: str | None  # the request's bearer header, passed on to a server

    def may(self, permission: str) -> bool:
        return permission in self.grants

    @property
    def can_act(self) -> bool:
        return self.may(ACT)

    @property
    def token(self) -> str | None:
        scheme, _, token = (self.authorization or "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "roles": sorted(self.grants),
                "actions": ["traffic", "canary", "rollback"] if self.can_act else []}


def authorization_of(request: Request) -> str | None:
    """The bearer header, else the sign-in cookie as one."""
    header = request.headers.get("authorization")
    if header:
        return header
    cookie = request.cookies.get(COOKIE)
    return f"Bearer {cookie}" if cookie else None


def viewer_of(auth: Authenticator, request: Request) -> Viewer:
    """The viewer, or 401: a token that is not valid, or none where viewing needs one."""
    authorization = authorization_of(request)
    credential = auth.identify(authorization)
    if credential is None and authorization is not None:
        raise Unauthorized("the token is not valid", hint=SIGN_IN)
    if credential is None and not auth.may_see_models(None):
        raise Unauthorized("the dashboard needs a token here (serve.auth.predict is on)", hint=SIGN_IN)
    if credential is None:
        return Viewer(None, frozenset(), None)
    return Viewer(credential.name, credential.grants, authorization)


def actor(auth: Authenticator, request: Request) -> Viewer:
    """The viewer of an action: role deploy (401/403 otherwise, from the same check as the
    admin API), and a JSON body (a cross-site form cannot send one: no forged actions)."""
    viewer = viewer_of(auth, request)
    auth.check(viewer.authorization, ACT)
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/json":
        raise UnsupportedMediaType("send the action as JSON (Content-Type: application/json)")
    return viewer


def local_authenticator(auth: object, state_dir: Path) -> Callable[[], Authenticator]:
    """`conveyor ui`'s: the config's tokens, and the local admin token `conveyor serve`
    writes at each start (read again whenever the file changes)."""
    from conveyor.serving.auth import TOKEN_FILE, Authenticator, credential_from_digest, digest

    path = state_dir / TOKEN_FILE
    cache: dict[str, Any] = {}

    def current() -> Authenticator:
        try:
            stamp: float | None = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if cache.get("stamp", -1) != stamp or "auth" not in cache:
            extra = []
            if stamp is not None:
                token = path.read_text().strip()
                extra.append(credential_from_digest("local-admin", digest(token).hex()))
            cache.update(stamp=stamp, auth=Authenticator.from_config(auth, extra))
        built: Authenticator = cache["auth"]
        return built

    return current
