"""Redaction of resolved secrets and URI passwords."""

from conveyor.core.config.secrets import Secrets, redact_uri_password


def test_uri_password_masked() -> None:
    assert redact_uri_password("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_uri_password("http://host:5000") == "http://host:5000"


def test_interpolated_values_are_redacted() -> None:
    secrets = Secrets()
    text = secrets.interpolate("token=${TOKEN}", {"TOKEN": "abc123"})
    assert text == "token=abc123"
    assert secrets.redact("the token is abc123") == "the token is ***"
