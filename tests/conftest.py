"""Shared fixtures: example projects on the embedded stack, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from conveyor.scaffold import init_project
from tests.datasets import DatasetProject, diabetes_project, wine_project

MIGRATED_DB = "mlflow.db"
PG_HOST = os.environ.get("CONVEYOR_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CONVEYOR_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CONVEYOR_TEST_PG_USER", "postgres")


@pytest.fixture(autouse=True)
def _fresh_s3_clients() -> Iterator[None]:
    """s3fs caches its filesystems by their arguments, not by the environment: a test that
    points AWS_ENDPOINT_URL at its own S3 server must not get a client bound to another
    test's (stopped) server, so the cache is emptied around every test."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A throwaway database on the local PostgreSQL server, dropped afterwards."""
    import psycopg

    name = f"conveyor_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        # FORCE: MLflow's cached store still holds pooled connections to it.
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store, migrated once (migrations take seconds per new DB)."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("store")
    db = folder / MIGRATED_DB
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture(scope="session")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The churn example with its generated data, created once and copied per test."""
    return init_project(tmp_path_factory.mktemp("template") / "churn-model")


@pytest.fixture
def make_project(
    tmp_path: Path, example_template: Path, migrated_store: Path
) -> Callable[..., Path]:
    """A fresh copy of the example project with an embedded store ready to use."""
    counter = iter(range(1000))

    def make(name: str | None = None, with_store: bool = True) -> Path:
        folder = tmp_path / (name or f"project{next(counter)}")
        shutil.copytree(example_template, folder)
        if with_store:
            (folder / ".conveyor").mkdir(exist_ok=True)
            shutil.copy(migrated_store, folder / ".conveyor" / MIGRATED_DB)
        return folder

    return make


@pytest.fixture
def project_dir(make_project: Callable[..., Path]) -> Path:
    return make_project()


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Invoke the real `conveyor` Typer app in-process."""
    from conveyor.cli.app import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CONVEYOR_ENV", raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def edit_config() -> Callable[[Path, str, str], None]:
    """Edit a project's conveyor.yaml by exact text replacement (fails loudly if absent)."""

    def edit(project: Path, old: str, new: str) -> None:
        config = project / "conveyor.yaml"
        text = config.read_text()
        assert old in text, f"{old!r} not in conveyor.yaml"
        config.write_text(text.replace(old, new))

    return edit


@pytest.fixture(scope="session")
def s3():
    """A local S3-compatible server (moto) and the storage options that point s3fs at it."""
    from moto.server import ThreadedMotoServer

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    options = {"client_kwargs": {"endpoint_url": f"http://{host}:{port}"}, "key": "testing", "secret": "testing"}
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("lake")
    yield options
    server.stop()


@pytest.fixture(scope="session")
def frame_factory() -> Callable[..., pd.DataFrame]:
    """Synthetic mixed data with controllable shifts (profiles and monitoring tests)."""

    def make(rows: int = 4000, seed: int = 0, shift: float = 0.0, scale: float = 1.0,
             new_category: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.normal(10 + shift, 2 * scale, rows)
        x[rng.random(rows) < missing] = np.nan
        colour = rng.choice(["red", "green", "blue"], rows, p=[0.5, 0.3, 0.2]).astype(object)
        colour[rng.random(rows) < new_category] = "purple"
        return pd.DataFrame({
            "x": x,
            "y": rng.gamma(2.0, 3.0, rows),
            "calls": rng.poisson(1.5, rows).astype(float),
            "colour": colour,
            "size": rng.choice(["s", "m", "l"], rows),
        })

    return make




@pytest.fixture(scope="session")
def diabetes(tmp_path_factory: pytest.TempPathFactory, migrated_store: Path) -> DatasetProject:
    """scikit-learn's diabetes data, trained as StandardScaler + Ridge (no imputer), at prod."""
    return diabetes_project(tmp_path_factory.mktemp("datasets") / "diabetes", migrated_store)


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory, migrated_store: Path) -> DatasetProject:
    """scikit-learn's wine data (3 classes, a text column with handle_unknown='error'), at prod."""
    return wine_project(tmp_path_factory.mktemp("datasets") / "wine", migrated_store)
