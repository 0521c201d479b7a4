"""A local S3-compatible server (moto) that boto3, s3fs and MLflow's artifact repository all
reach through the environment, for tests that put a stand's stores on S3."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
             "MLFLOW_S3_ENDPOINT_URL")


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """Start moto on a free loopback port with ``bucket`` created, point the environment at it
    and yield its endpoint; afterwards the server stops and the environment is as it was."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in VARIABLES}
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,  # boto3 and s3fs
        "MLFLOW_S3_ENDPOINT_URL": endpoint,  # MLflow's artifact repository
    })
    _forget_s3_clients()  # s3fs caches clients by arguments: an earlier one has an old endpoint
    try:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_s3_clients()


def _forget_s3_clients() -> None:
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
