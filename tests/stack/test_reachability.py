"""The store probe: credentials in an HTTP tracking URI are sent as basic auth, never shown."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.core.errors import StoreUnreachableError
from conveyor.stack.reachability import check_tracking_store

USER, PASSWORD = "ml", "p@ss:w0rd-7f3a"


@pytest.fixture
def basic_auth_server() -> Iterator[tuple[int, list[str | None]]]:
    """A local HTTP server whose /health needs basic auth (401 without it)."""
    seen: list[str | None] = []
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            ok = self.path == "/health" and self.headers.get("Authorization") == expected
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(b"OK" if ok else b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, seen
    finally:
        server.shutdown()
        server.server_close()


def test_credentials_in_an_http_uri_are_sent_as_basic_auth(basic_auth_server) -> None:
    port, seen = basic_auth_server
    quoted = PASSWORD.replace("@", "%40").replace(":", "%3A")
    check_tracking_store(f"http://{USER}:{quoted}@127.0.0.1:{port}/")
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert seen == [expected]


def test_an_unreachable_http_uri_never_shows_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StoreUnreachableError, match="is unreachable") as caught:
        check_tracking_store(f"http://{USER}:s3cret-9b1@127.0.0.1:{port}/")
    assert "s3cret-9b1" not in str(caught.value) and "s3cret-9b1" not in (caught.value.hint or "")
    assert f"http://{USER}:***@127.0.0.1:{port}/" in str(caught.value)
