"""Fail fast, with one clear line, when a store cannot be reached."""

from __future__ import annotations

import urllib.error
import urllib.request

from conveyor.core.config.secrets import redact_uri_password
from conveyor.core.errors import ConveyorError, StoreUnreachableError

TIMEOUT_SECONDS = 5.0


def check_tracking_store(uri: str) -> None:
    """Probe an HTTP tracking server or a database store before any work starts."""
    shown = redact_uri_password(uri)
    scheme = uri.split(":", 1)[0].lower()
    try:
        if scheme in ("http", "https"):
            _probe_http(uri)
        elif "+" in scheme or scheme in ("postgresql", "postgres", "mysql", "mssql"):
            _probe_database(uri)
    except StoreUnreachableError:
        raise
    except ModuleNotFoundError as exc:
        raise ConveyorError(
            f"cannot open tracking store {shown}: database driver {exc.name!r} is not installed",
            hint="pip install 'conveyor[postgres]' (psycopg) or the driver for your database",
        ) from None
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"
        raise StoreUnreachableError(
            f"tracking store {shown} is unreachable: {_first_line(exc)}",
            hint="check tracking_uri for this environment (or MLFLOW_TRACKING_URI) and that "
            "the server is running",
        ) from None


def _probe_http(uri: str) -> None:
    """GET ``/health``; credentials in the URI (``http://user:pass@host``) are sent as HTTP
    basic auth, as MLflow's client sends them, never as part of the address."""
    url, headers = _without_credentials(uri.rstrip("/") + "/health")
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(64)
    except urllib.error.HTTPError:
        return  # the server answered; an auth or 404 on /health still means it is up


def _without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its ``user:password@`` part, and the basic-auth header it stood for."""
    import base64
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return urlunsplit(parts._replace(netloc=netloc)), headers


def _probe_database(uri: str) -> None:
    import sqlalchemy

    connect_args = {"connect_timeout": int(TIMEOUT_SECONDS)} if "postgres" in uri else {}
    engine = sqlalchemy.create_engine(uri, connect_args=connect_args, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_uri_password(text[0] if text else type(exc).__name__)
