"""Reading batch outputs by their manifest: the reader side of :mod:`conveyor.core.output`.

A folder that is a committed conveyor output is read as exactly the parts its
``_manifest.json`` lists, whatever else the folder holds (parts an interrupted commit copied
to an object store, files someone added); a folder being committed (``_temporary/run.json``,
no manifest) is refused, so a half-committed output is never read as whole. A folder or glob
that takes in an earlier output among other files is refused too: scoring or training on it
would count those rows again.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from conveyor.core.errors import OutputInSourceError, SourceError, UncommittedOutputError
from conveyor.core.output import MANIFEST, markers, output_roots_of, part_name

if TYPE_CHECKING:
    import fsspec

_READ_AS_OUTPUT = "to read that output, open its folder (only the parts its manifest lists are read)"


def committed_files(fs: fsspec.AbstractFileSystem, root: str, url: str, listing: Collection[str]) -> list[str] | None:
    """The parts of the output at ``root`` (``listing``: every file under it), or None when
    ``root`` is no conveyor output. Raises :class:`UncommittedOutputError` for an output
    without a manifest."""
    manifest, attempt = markers(root)
    if manifest not in listing:
        if attempt in listing:
            raise UncommittedOutputError(
                f"{url} is a batch output that is not committed (no {MANIFEST}): a run is writing it, "
                "or was killed before its commit finished; nothing of it is read",
                hint="wait for conveyor predict to finish, or rerun it with --resume",
            )
        return None
    try:
        with fs.open(manifest, "r") as handle:
            parts = [part_name(int(p["index"])) for p in json.load(handle)["parts"]]
    except Exception as exc:  # noqa: BLE001 - unreadable or not a conveyor manifest
        raise SourceError(f"cannot read the manifest of {url}: {type(exc).__name__}: {exc}") from None
    files = [posixpath.join(root, name) for name in parts]
    missing = [f for f in files if f not in listing]
    if missing:
        raise SourceError(
            f"{url} is a committed batch output, but {len(missing)} of the {len(files)} parts its "
            f"manifest lists are not there (first: {posixpath.basename(missing[0])})",
        )
    return files


def refuse_outputs_within(url: str, root: str, files: Iterable[str], is_output: Callable[[str], bool]) -> None:
    """Raise :class:`OutputInSourceError` when a file is a part of a batch output other than
    ``root`` itself; ``is_output(folder)`` tells whether a folder holds an output's markers."""
    for path in files:
        for candidate in output_roots_of(path):
            if candidate != root and is_output(candidate):
                raise OutputInSourceError(
                    f"{url} takes in the batch output {candidate} (written by conveyor predict); "
                    "its rows would be read again as input",
                    hint=f"{_READ_AS_OUTPUT}; to read other data, narrow the folder or glob so it "
                    "leaves the output out",
                )


def marked_in(listing: Collection[str]) -> Callable[[str], bool]:
    """``is_output`` for :func:`refuse_outputs_within` from a complete listing (no requests)."""
    return lambda folder: any(marker in listing for marker in markers(folder))


def marked_on(fs: fsspec.AbstractFileSystem) -> Callable[[str], bool]:
    """``is_output`` that asks the filesystem (once per folder)."""
    seen: dict[str, bool] = {}

    def is_output(folder: str) -> bool:
        if folder not in seen:
            seen[folder] = any(fs.exists(marker) for marker in markers(folder))
        return seen[folder]

    return is_output
