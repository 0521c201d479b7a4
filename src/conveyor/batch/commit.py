"""The output commit protocol: nothing looks complete until the manifest is written, and on
a local filesystem nothing is there at all until the whole output appears in one rename.

An attempt is written into its attempt folder (see :mod:`conveyor.core.output`): on a local
or POSIX filesystem the hidden sibling ``.out.conveyor-staging/``, on an object store
``out/`` itself::

    _temporary/run.json               what this attempt scores (resume must match it)
    _temporary/part-000003.parquet    a part (done once its record exists)
    _temporary/profile-000003.json    its monitoring profile (when the model has a baseline)
    _temporary/part-000003.json       its record: written last, so it marks the part done
    _temporary/_rejects/part-000003.parquet
    _profile.json                     the part profiles merged (before the commit)

The commit moves the recorded parts to the top of the attempt folder, writes
``_manifest.json`` (the commit record) and ``_SUCCESS``, removes ``_temporary/`` and, on a
local filesystem, renames the attempt folder onto ``out/`` (absent or empty): readers see
nothing, then everything. An object store has no rename: there readers must go by the
manifest (``open_source`` does), and the parts a killed commit copied are read by no one.
A commit killed after its manifest is finished by the next ``--resume``.

``CONVEYOR_KILL_AT_COMMIT=<step>`` (one of :data:`COMMIT_STEPS`) makes the process kill
itself with SIGKILL at that step: the fault-injection hook the commit tests use.
"""

from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.batch.manifest import Manifest, PartResult
from conveyor.batch.profiling import PartProfiler
from conveyor.core.errors import OutputError
from conveyor.core.output import MANIFEST, PROFILE, REJECTS, RUN, STAGING, SUCCESS, staging_folder

if TYPE_CHECKING:
    import fsspec
    import pandas as pd
    import pyarrow as pa

__all__ = ["COMMIT_STEPS", "KILL_AT_COMMIT", "REJECTS", "RUN", "STAGING", "SUCCESS", "OutputStore"]

KILL_AT_COMMIT = "CONVEYOR_KILL_AT_COMMIT"
COMMIT_STEPS = ("start", "first-part", "parts", "manifest", "success", "cleanup")
_OURS = re.compile(r"^(part-\d{6}\.parquet|_manifest\.json|_profile\.json|_SUCCESS|_temporary|_rejects)$")


@dataclass(frozen=True)
class OutputStore:
    """An output folder; picklable, so every worker can write its own parts."""

    url: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        import fsspec

        return fsspec.core.url_to_fs(self.url, **self.storage_options)[0]

    @property
    def root(self) -> str:
        import fsspec

        return str(fsspec.core.url_to_fs(self.url, **self.storage_options)[1]).rstrip("/")

    @property
    def local(self) -> bool:
        """A local (POSIX) filesystem: the commit is one rename of the attempt folder."""
        protocol = self.fs.protocol
        return (protocol if isinstance(protocol, str) else protocol[0]) in ("file", "local")

    @property
    def attempt(self) -> str:
        """Where an attempt is written: a hidden sibling locally, the output itself elsewhere."""
        return staging_folder(self.root) if self.local else self.root

    def _path(self, *names: str) -> str:
        return "/".join([self.root, *names])

    def _staged(self, *names: str) -> str:
        return "/".join([self.attempt, *names])

    # --- before the run ---------------------------------------------------------------

    def committed_manifest(self) -> Manifest | None:
        return self._manifest_at(self._path(MANIFEST))

    def _manifest_at(self, path: str) -> Manifest | None:
        data = self._read_json(path)
        return None if data is None else Manifest.from_dict(data)

    def finish_interrupted_commit(self) -> Manifest | None:
        """Finish a commit that was killed after it wrote its manifest (the output is whole
        then, in all but its last steps); the manifest, or None when there is none."""
        fs = self.fs
        manifest = self._manifest_at(self._staged(MANIFEST))
        if manifest is None:
            return None
        if not fs.exists(self._staged(SUCCESS)):
            with fs.open(self._staged(SUCCESS), "wb"):
                pass
        if fs.exists(self._staged(STAGING)):
            fs.rm(self._staged(STAGING), recursive=True)
        if self.local and self.attempt != self.root:
            self._publish()
        return manifest

    def prepare(self, run: dict[str, Any], resume: bool) -> dict[int, PartResult]:
        """Set up staging for ``run``; returns parts already done when resuming."""
        fs = self.fs
        try:
            exists = fs.exists(self.root)
        except Exception as exc:  # noqa: BLE001
            raise OutputError(f"cannot reach output {self.url}: {type(exc).__name__}: {exc}") from None
        if exists and fs.exists(self._path(MANIFEST)):
            raise OutputError(
                f"{self.url} already holds a committed batch output",
                hint="choose a new --output, or delete the old one first",
            )
        entries = fs.ls(self.root, detail=False) if exists else []
        if entries:
            strangers = [p for p in entries if not _OURS.match(p.rstrip("/").rsplit("/", 1)[-1])]
            if strangers:
                raise OutputError(
                    f"{self.url} is not empty and is not a conveyor output ({len(strangers)} other entries)",
                    hint="point --output at an empty or new folder",
                )
        done: dict[int, PartResult] = {}
        previous = self._read_json(self._staged(STAGING, RUN))
        if resume and previous is not None:
            if previous != run:
                changed = sorted(k for k in set(previous) | set(run) if previous.get(k) != run.get(k))
                raise OutputError(
                    f"cannot resume into {self.url}: the earlier attempt differs in {changed}",
                    hint="resume with the same model version, input, batch size and engine, "
                    "or drop --resume to start over",
                )
            done = self.finished_parts()
        elif self.attempt == self.root:
            for entry in entries:
                fs.rm(entry, recursive=True)
        elif fs.exists(self.attempt):
            fs.rm(self.attempt, recursive=True)
        if self.attempt != self.root:  # the rename needs an absent or empty output folder
            for entry in entries:
                fs.rm(entry, recursive=True)
        fs.makedirs(self._staged(STAGING, REJECTS), exist_ok=True)
        self._write_json(self._staged(STAGING, RUN), run)
        return done

    def finished_parts(self) -> dict[int, PartResult]:
        fs = self.fs
        out: dict[int, PartResult] = {}
        for path in fs.glob(self._staged(STAGING, "part-*.json")):
            record = self._read_json(path)
            if record is not None:
                part = PartResult.from_dict(record)
                out[part.index] = part
        return out

    # --- during the run (any process) ---------------------------------------------------

    def write_part(
        self,
        part: PartResult,
        output: pd.DataFrame | pa.Table,
        rejected: pd.DataFrame | pa.Table,
        constants: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """Write one part's files and profile, then its record (written last, it marks the part done).

        The Parquet files go straight to their staged names: until the record exists a
        resume rewrites them, and only recorded parts are ever committed.
        """
        self._write_parquet(output, self._staged(STAGING, part.name), constants or {})
        if len(rejected):
            self._write_parquet(rejected, self._staged(STAGING, REJECTS, part.name), {})
        if profile is not None:
            self._write_json(self._profile_path(part), profile)
        self._write_json(self._staged(STAGING, part.name.replace(".parquet", ".json")), part.to_dict())

    # --- at the end -----------------------------------------------------------------------

    def merge_profiles(self, profiler: PartProfiler, parts: list[PartResult]) -> dict[str, Any] | None:
        """Merge the staged part profiles into ``_profile.json``; the manifest's reference to it."""
        profiles = [p for p in (self._read_json(self._profile_path(part)) for part in parts) if p is not None]
        merged = profiler.merge(profiles)
        if merged is None:
            return None
        self._write_json(self._staged(PROFILE), merged)
        return {"path": PROFILE, "rows": int(merged["rows"]), "parts": len(profiles)}

    def _profile_path(self, part: PartResult) -> str:
        return self._staged(STAGING, f"profile-{part.index:06d}.json")

    def commit(self, manifest: Manifest) -> str:
        """Move the staged parts to the top of the attempt folder, write the manifest and
        _SUCCESS, drop ``_temporary/``; locally, rename the attempt folder onto the output."""
        fs = self.fs
        _kill_at("start")
        for number, part in enumerate(manifest.parts):
            staged, final = self._staged(STAGING, part.name), self._staged(part.name)
            if fs.exists(staged):
                fs.mv(staged, final)
            elif not fs.exists(final):  # moved by an interrupted commit, or never written
                raise OutputError(f"part {part.name} is missing from {self.url}", hint="rerun without --resume")
            if part.rejected:
                staged = self._staged(STAGING, REJECTS, part.name)
                if fs.exists(staged):
                    fs.makedirs(self._staged(REJECTS), exist_ok=True)
                    fs.mv(staged, self._staged(REJECTS, part.name))
            if number == 0:
                _kill_at("first-part")
        _kill_at("parts")
        self._write_json(self._staged(MANIFEST), manifest.to_dict())
        _kill_at("manifest")
        with fs.open(self._staged(SUCCESS), "wb"):
            pass
        _kill_at("success")
        fs.rm(self._staged(STAGING), recursive=True)
        _kill_at("cleanup")
        if self.attempt != self.root:
            self._publish()
        return self._path(MANIFEST)

    def _publish(self) -> None:
        """The one rename that makes a local output appear whole (onto an absent or empty folder)."""
        try:
            os.rename(self.attempt, self.root)
        except OSError as exc:
            raise OutputError(
                f"cannot commit {self.url}: {exc.strerror or exc}",
                hint=f"the scored output is complete in {self.attempt}; empty {self.url} and rerun with --resume",
            ) from None

    # --- helpers --------------------------------------------------------------------------

    def _write_parquet(self, frame: pd.DataFrame | pa.Table, path: str, constants: dict[str, str]) -> None:
        """``frame`` (a DataFrame, or Arrow columns as they are) plus one string column per
        constant (built in Arrow, not per row in pandas).

        Only non-numeric columns are dictionary-encoded: numbers (ids, probabilities) rarely
        repeat, and trying costs more than the whole rest of the write. Only numeric and
        temporal columns get min/max statistics, the ones a reader prunes parts with (ids,
        dates, scores); the min and max of a text column rarely exclude a part, and computing
        them took a fifth of the write. The file is built in memory and written in one call
        (through a Python file object Arrow's writer makes hundreds of small writes a part).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
        for name, value in constants.items():
            table = table.append_column(name, pa.repeat(pa.scalar(value, pa.large_string()), len(table)))
        numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_temporal)
        numbers = [f.name for f in table.schema if any(test(f.type) for test in numeric)]
        dictionary = [f.name for f in table.schema if f.name not in numbers]
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, use_dictionary=dictionary, write_statistics=numbers)
        with self.fs.open(path, "wb") as handle:
            handle.write(memoryview(buffer.getvalue()))

    def _write_json(self, path: str, payload: Any) -> None:
        fs = self.fs
        temporary = path + ".inprogress"
        with fs.open(temporary, "w") as handle:
            handle.write(json.dumps(payload, sort_keys=True, indent=1))
        fs.mv(temporary, path)

    def _read_json(self, path: str) -> Any:
        fs = self.fs
        if not fs.exists(path):
            return None
        with fs.open(path, "r") as handle:
            return json.load(handle)


def _kill_at(step: str) -> None:
    """The fault-injection hook: SIGKILL this process at commit step ``step`` when asked."""
    if os.environ.get(KILL_AT_COMMIT) == step:
        os.kill(os.getpid(), signal.SIGKILL)
