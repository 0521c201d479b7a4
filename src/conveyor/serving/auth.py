"""Bearer tokens with roles. Only SHA-256 digests are kept; comparison is constant-time.

Roles grant permissions: admin ⊇ deploy ⊇ {predict, feedback}; `predict` and `feedback`
grant only themselves (a labelling job posts feedback, a client predicts). Admin
endpoints always need a token; prediction endpoints only when `serve.auth.predict` is
true; feedback (`POST /models/{name}/feedback`, the labels monitoring and retraining
trust) whenever tokens are configured or prediction needs one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from conveyor.serving.errors import Forbidden, Unauthorized

GRANTS: dict[str, frozenset[str]] = {
    "predict": frozenset({"predict"}),
    "feedback": frozenset({"feedback"}),
    "deploy": frozenset({"deploy", "predict", "feedback"}),
    "admin": frozenset({"admin", "deploy", "predict", "feedback"}),
}
TOKEN_FILE = "admin.token"


@dataclass(frozen=True)
class Credential:
    name: str
    digest: bytes
    grants: frozenset[str]


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """`predict_open`: predictions need no token; `feedback_open`: nor does feedback (only
    when no token is configured and predictions are open: the laptop default)."""

    def __init__(self, credentials: list[Credential], *, predict_open: bool = True, feedback_open: bool = True) -> None:
        self.credentials = credentials
        self.predict_open = predict_open
        self.feedback_open = feedback_open

    @classmethod
    def from_config(cls, auth: object, extra: list[Credential] | None = None) -> Authenticator:
        tokens = getattr(auth, "tokens", [])
        creds = [
            Credential(t.name, bytes.fromhex(t.sha256), frozenset().union(*(GRANTS[r] for r in t.roles)))
            for t in tokens
        ]
        predict_open = not getattr(auth, "predict", False)
        return cls(creds + list(extra or []), predict_open=predict_open, feedback_open=predict_open and not tokens)

    def open_to(self, permission: str) -> bool:
        """Whether this permission needs no token here."""
        return (permission == "predict" and self.predict_open) or (permission == "feedback" and self.feedback_open)

    def check(self, authorization: str | None, permission: str) -> str | None:
        """The caller's token name, or raise 401/403. Predict and feedback may be open
        (returns None: the caller is anonymous)."""
        if self.open_to(permission):
            return None
        if not authorization:
            raise Unauthorized(f"this endpoint needs a bearer token with role {permission!r}")
        token = _bearer(authorization)
        if token is None:
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        match = self._match(token)
        if match is None:
            raise Unauthorized("the token is not valid")
        if permission not in match.grants:
            raise Forbidden(f"token {match.name!r} lacks role {permission!r}")
        return match.name

    def may_see_models(self, authorization: str | None) -> bool:
        """Whether the caller may be told which models are served: anyone while predictions
        are open, else only a caller with a valid token (any role)."""
        return self.predict_open or self.identify(authorization) is not None

    def identify(self, authorization: str | None) -> Credential | None:
        """The credential of a bearer header's token (None: no header, not that form, or a
        token that is not valid). What a page may show; `check` still decides each action."""
        token = _bearer(authorization)
        return None if token is None else self._match(token)

    def _match(self, token: str) -> Credential | None:
        presented = digest(token)
        match: Credential | None = None
        for cred in self.credentials:  # compare against every one: timing says nothing
            if hmac.compare_digest(presented, cred.digest) and match is None:
                match = cred
        return match


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None: not that form)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def local_admin_token(state_dir: Path) -> tuple[str, Credential]:
    """With no tokens configured, `conveyor serve` makes one per start, readable only by
    the owner, so `conveyor traffic`/`rollout` from the same project can authenticate."""
    token = secrets.token_urlsafe(32)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(token)
    temp.chmod(0o600)
    temp.replace(path)
    return token, Credential("local-admin", digest(token), GRANTS["admin"])


def read_local_token(state_dir: Path) -> str | None:
    path = state_dir / TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


def credential_from_digest(name: str, hex_digest: str, role: str = "admin") -> Credential:
    return Credential(name, bytes.fromhex(hex_digest), GRANTS[role])
