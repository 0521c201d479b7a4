"""Bearer tokens with roles. Only SHA-256 digests are kept; comparison is constant-time.

Roles nest: admin ⊇ deploy ⊇ predict. Admin endpoints always need a token; prediction
endpoints only when `serve.auth.predict` is true.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from conveyor.serving.errors import Forbidden, Unauthorized

ROLE_RANK = {"predict": 0, "deploy": 1, "admin": 2}
TOKEN_FILE = "admin.token"


@dataclass(frozen=True)
class Credential:
    name: str
    digest: bytes
    rank: int


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    def __init__(self, credentials: list[Credential], *, predict_open: bool = True) -> None:
        self.credentials = credentials
        self.predict_open = predict_open

    @classmethod
    def from_config(cls, auth: object, extra: list[Credential] | None = None) -> Authenticator:
        creds = [
            Credential(t.name, bytes.fromhex(t.sha256), max(ROLE_RANK[r] for r in t.roles))
            for t in getattr(auth, "tokens", [])
        ]
        return cls(creds + list(extra or []), predict_open=not getattr(auth, "predict", False))

    def check(self, authorization: str | None, role: str) -> str | None:
        """The caller's token name, or raise 401/403. Predict may be open (returns None)."""
        need = ROLE_RANK[role]
        if role == "predict" and self.predict_open:
            return None
        if not authorization:
            raise Unauthorized(f"this endpoint needs a bearer token with role {role!r}")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        presented = digest(token.strip())
        match: Credential | None = None
        for cred in self.credentials:  # compare against every one: timing says nothing
            if hmac.compare_digest(presented, cred.digest) and match is None:
                match = cred
        if match is None:
            raise Unauthorized("the token is not valid")
        if match.rank < need:
            raise Forbidden(f"token {match.name!r} lacks role {role!r}")
        return match.name


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
    return token, Credential("local-admin", digest(token), ROLE_RANK["admin"])


def read_local_token(state_dir: Path) -> str | None:
    path = state_dir / TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


def credential_from_digest(name: str, hex_digest: str, role: str = "admin") -> Credential:
    return Credential(name, bytes.fromhex(hex_digest), ROLE_RANK[role])
