"""The two stands of tests/lifecycle (SQLite here, PostgreSQL + S3 there) for the CLI tests."""

from tests.lifecycle.conftest import sim_stand, stands_project  # noqa: F401 - fixtures
