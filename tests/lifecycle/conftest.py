"""Two stands for cross-stand promotion: the project's embedded SQLite stand, and a stand
``sim`` whose registry is a throwaway database on the local PostgreSQL server and whose
artifacts are on a local S3-compatible server (moto).

The database (migrated once: MLflow's migrations take a while on PostgreSQL) and the S3
server are shared by the tests of a module; each test's project registers its own model
name, so the tests never see each other's versions.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PG_HOST, PG_PORT, PG_USER
from tests.s3server import s3_server

BUCKET = "stands"


@dataclass(frozen=True)
class SimStand:
    """Where the second stand's stores are."""

    tracking_uri: str
    endpoint: str
    bucket: str = BUCKET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sim_stand() -> Iterator[SimStand]:
    import psycopg
    from mlflow import MlflowClient

    with s3_server(BUCKET) as endpoint:
        name = f"conveyor_stand_{uuid.uuid4().hex[:10]}"
        admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        uri = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        try:
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()  # migrate once
            yield SimStand(uri, endpoint)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


STAGES_ON_STANDS = """stages:
  - dev
  - {name: int, env: sim}
  - {name: prod, env: sim}
"""


@pytest.fixture
def stands_project(
    make_project: Callable[..., Path], edit_config: Callable[[Path, str, str], None], sim_stand: SimStand
) -> Path:
    """The example project with ``dev`` on its embedded stand, ``int`` and ``prod`` on ``sim``,
    under a model name of its own."""
    folder = make_project()
    model = f"churn_{uuid.uuid4().hex[:8]}"
    edit_config(folder, "name: churn", f"name: {model}")
    edit_config(folder, "stages: [dev, staging, prod]\n", STAGES_ON_STANDS)
    edit_config(
        folder, "environments:\n",
        f"environments:\n  sim:\n    tracking_uri: {sim_stand.tracking_uri}\n"
        f"    artifact_store: s3://{sim_stand.bucket}/{model}\n",
    )
    return folder
