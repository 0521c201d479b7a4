"""The batch output layout: the contract between the writer (``conveyor predict``) and every
reader (``open_source`` on an output folder, ``conveyor monitor --data``). Names only; no I/O.

A committed output folder::

    out/part-000000.parquet ...      the scored rows, one file per part
    out/_rejects/part-000003.parquet rows set aside (policy ``reject``)
    out/_profile.json                the part profiles merged
    out/_manifest.json               the commit record: lists every part; written last
    out/_SUCCESS                     empty, for Spark/Hadoop-style readers

The reader contract: an output is complete exactly when ``_manifest.json`` exists, and it
holds exactly the parts the manifest lists (``parts[].index`` → :func:`part_name`); read
those and nothing else. On a local (POSIX) filesystem the whole folder appears in one rename,
so ``out/`` is either absent (or empty) or complete; on an object store (no rename) parts are
copied into place before the manifest, so a reader that lists files may see some parts of
an output being committed, and only the manifest tells which are whole.

A scheduled run (``conveyor scheduler``) writes each cron slot into its own output:
``batch.output`` with ``{slot}`` (the slot in UTC, ``2026-12-01T0200Z``) and ``{date}`` (its
day in the scheduler's time zone, ``2026-12-01``) filled in, or — with neither — the folder
``slot=<slot>/`` under it (:func:`slot_output`). Slots never share an output, and a slot run
again resumes its own. Outside the scheduler an output with a placeholder is refused.

While a run is in progress its attempt lives under ``_temporary/`` of the attempt folder:
``out/`` itself on an object store, the hidden sibling :func:`staging_folder` on a local
filesystem.
"""

from __future__ import annotations

import posixpath
import re

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
PROFILE = "_profile.json"
STAGING = "_temporary"
REJECTS = "_rejects"
RUN = "run.json"  # under STAGING: what the attempt scores (a resume must match it)
STAGING_SUFFIX = ".conveyor-staging"
PART = re.compile(r"^part-\d{6}\.parquet$")
SLOT_PLACEHOLDER = "{slot}"
DATE_PLACEHOLDER = "{date}"
# where a part sits relative to its output's root folder
_PART_FOLDERS = ((), (STAGING,), (REJECTS,), (STAGING, REJECTS))


def part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def staging_folder(root: str) -> str:
    """The local attempt folder of output ``root``: a hidden sibling, renamed onto ``root``
    when the attempt commits (``/data/out`` → ``/data/.out.conveyor-staging``)."""
    parent, name = posixpath.split(root.rstrip("/"))
    return posixpath.join(parent, f".{name}{STAGING_SUFFIX}")


def output_roots_of(path: str) -> list[str]:
    """The folders that would be the output root if ``path`` were a conveyor part (none for
    other names): its folder, or the folder above ``_temporary/`` / ``_rejects/``."""
    folder, name = posixpath.split(path)
    if not PART.match(name):
        return []
    parts = folder.split("/")
    return ["/".join(parts[: len(parts) - len(tail)]) for tail in _PART_FOLDERS
            if tuple(parts[len(parts) - len(tail):]) == tail and len(parts) > len(tail)]


def markers(root: str) -> tuple[str, str]:
    """The files that make ``root`` a conveyor output: its manifest (committed) and its
    attempt record (a run in progress or interrupted)."""
    return posixpath.join(root, MANIFEST), posixpath.join(root, STAGING, RUN)


def has_slot_placeholder(output: str) -> bool:
    return SLOT_PLACEHOLDER in output or DATE_PLACEHOLDER in output


def slot_output(output: str, slot: str, date: str) -> str:
    """The output of one scheduled slot (see the module docstring)."""
    if has_slot_placeholder(output):
        return output.replace(SLOT_PLACEHOLDER, slot).replace(DATE_PLACEHOLDER, date)
    return f"{output.rstrip('/')}/slot={slot}"
