"""The captured-traffic layout: the contract between the writer (``conveyor serve``) and the
reader (``conveyor monitor --window``). Names only; no I/O.

Layout under the artifact store::

    <store>/captures/<model>/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet          (served)
    <store>/captures/<model>/shadow/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet   (shadow)
    <store>/captures/<model>/feedback/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet (labels)

Capture columns: the model's input columns, :data:`PREDICTION`, :data:`SCORE` (classifiers),
:data:`TIMESTAMP` (UTC), :data:`REQUEST_ID`, :data:`ROW` (index in the request),
:data:`DEPLOYMENT`, :data:`VERSION`, :data:`LATENCY_MS`. Feedback columns: :data:`REQUEST_ID`,
:data:`ROW` (null: every row of the request), :data:`LABEL`, :data:`TIMESTAMP`.
"""

from __future__ import annotations

import re
from datetime import date

PREFIX = "captures"
SHADOW_FOLDER = "shadow"
FEEDBACK_FOLDER = "feedback"
PART_SUFFIX = ".parquet"

PREDICTION = "__prediction__"  # predicted label (classification) or value (regression)
SCORE = "__score__"  # predicted probability of the positive class (binary classification)
TIMESTAMP = "timestamp"
REQUEST_ID = "request_id"
ROW = "row"
DEPLOYMENT = "deployment"
VERSION = "version"
LATENCY_MS = "latency_ms"
LABEL = "label"

# Columns the serving layer adds next to the model inputs, in the order it writes them; never features.
METADATA = (PREDICTION, SCORE, TIMESTAMP, REQUEST_ID, ROW, DEPLOYMENT, VERSION, LATENCY_MS)

_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def model_root(store: str, model: str) -> str:
    """Where one model's captures live: ``<store>/captures/<model>``."""
    return f"{store.rstrip('/')}/{PREFIX}/{model}"


def partition(day: date | str) -> str:
    """The folder name of one day: ``date=YYYY-MM-DD``."""
    return f"date={day if isinstance(day, str) else day.isoformat()}"


def served_folder(store: str, model: str, day: date | str) -> str:
    return f"{model_root(store, model)}/{partition(day)}"


def shadow_folder(store: str, model: str, day: date | str) -> str:
    return f"{model_root(store, model)}/{SHADOW_FOLDER}/{partition(day)}"


def feedback_folder(store: str, model: str, day: date | str) -> str:
    return f"{model_root(store, model)}/{FEEDBACK_FOLDER}/{partition(day)}"


def partition_date(path: str) -> str:
    """The ``YYYY-MM-DD`` of the partition a path lies in ("" when it lies in none)."""
    match = _PARTITION.search(path)
    return match.group(1) if match else ""
