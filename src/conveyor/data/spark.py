"""The Spark session the Spark engines (batch scoring, monitoring) run on: the active one if
there is one (tests, notebooks, a SparkApplication's driver), else one built from
``runtime.spark`` and the master. Executors read their parts themselves, with Arrow through
fsspec (so ``s3://`` needs no Hadoop S3 jars)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from conveyor.core.config.schema import SparkSpec

DEFAULT_MASTER = "local[*]"
SUBMITTED = "PYSPARK_GATEWAY_PORT"  # set by spark-submit for the Python driver it starts


def spark_conf(spec: SparkSpec | None) -> dict[str, str]:
    """The Spark properties ``runtime.spark`` sets (resources, then ``conf`` as written)."""
    conf: dict[str, str] = {}
    if spec is None:
        return conf
    for key, value in (
        ("spark.driver.memory", spec.driver_memory),
        ("spark.executor.memory", spec.executor_memory),
        ("spark.executor.instances", spec.executor_instances),
        ("spark.executor.cores", spec.executor_cores),
    ):
        if value is not None:
            conf[key] = str(value)
    conf.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spec.conf.items()})
    return conf


def spark_master(spec: SparkSpec | None, master: str | None) -> str | None:
    """``master`` as given, else ``runtime.spark.master``; None when neither says (see
    :func:`session_master`)."""
    return master or (spec.master if spec else None)


def session_master(master: str | None) -> str | None:
    """The master a new session is built with: the one configured; else none under
    ``spark-submit`` (a SparkApplication: its master, e.g. ``k8s://…``, is already set — a
    builder's master would override it), else every local core."""
    if master is not None:
        return master
    return None if SUBMITTED in os.environ else DEFAULT_MASTER


def spark_session(master: str | None, app_name: str, conf: dict[str, str]) -> SparkSession:
    """The active session if there is one, else a new one (a JVM: seconds) on
    :func:`session_master`; executors run this interpreter unless ``PYSPARK_PYTHON`` says
    otherwise."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the Spark engine needs pyspark", hint="pip install 'conveyor[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name)
    chosen = session_master(master)
    if chosen is not None:
        builder = builder.master(chosen)
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    builder = builder.config("spark.python.worker.reuse", "true")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - JVM start-up failures
        raise EngineError(f"cannot start Spark at {chosen or 'the submitted master'}: {first_line(exc)}",
                          hint="check --master / runtime.spark and that Java 17+ is installed") from None


def collect_tasks(tasks: Any, shared: Any, failure: str, hint: str) -> list[Any]:
    """Run a job's tasks and collect the rows they return; a failed job (an executor lost, a
    Python worker crashed) is one :class:`EngineError` saying ``failure``; ``shared`` (the
    broadcast the tasks read, or None) is released either way."""
    try:
        return list(tasks.collect())
    except Exception as exc:  # noqa: BLE001 - Py4J and Spark's many error types, one message
        raise EngineError(f"{failure}: {first_line(exc)}", hint=hint) from None
    finally:
        if shared is not None:
            shared.unpersist()


def first_line(exc: BaseException) -> str:
    """The first line of an error (a Py4J error carries the whole JVM stack after it)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
