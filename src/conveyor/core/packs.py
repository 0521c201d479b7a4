"""The environment-pack layout in an artifact store: the contract between the writers
(``conveyor pack``, a promotion that copies a version to another stand) and the readers
(``--env-pack``, the next copy). Names only; no I/O.

Layout under the artifact store::

    <store>/packs/<key>.tar.gz            the environment
    <store>/packs/<key>.json              its record, written last: without it there is no pack
    <store>/packs/inputs/<digest>.json    which key a set of build inputs resolved to
"""

from __future__ import annotations

PREFIX = "packs"
SUFFIX = ".tar.gz"
RECORD_SUFFIX = ".json"


def record_location(location: str) -> str:
    """The record beside a pack object: ``…/<key>.tar.gz`` → ``…/<key>.json``."""
    return location.removesuffix(SUFFIX) + RECORD_SUFFIX
