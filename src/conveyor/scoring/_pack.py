"""A scorer as bytes for batch workers (local processes, Spark tasks), which rebuild it
without MLflow; a plan scorer unpickles without importing scikit-learn."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

from conveyor.scoring._scorer import Scorer


def pack(scorer: Scorer) -> bytes:
    """The bytes of what workers score with (:meth:`Scorer.portable`), by cloudpickle (classes
    defined in the user's ``train.py`` travel by value)."""
    return pack_object(scorer.portable())


def pack_object(value: Any) -> bytes:
    import cloudpickle

    payload: bytes = cloudpickle.dumps(value)
    return payload


def unpack(payload: bytes) -> Any:
    return pickle.loads(payload)


def payload_key(payload: bytes) -> str:
    """A short digest naming a payload (a worker loads each one once)."""
    return hashlib.sha256(payload).hexdigest()[:16]
