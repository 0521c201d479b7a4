"""The output commit protocol: nothing looks complete until the manifest is written.

Layout of an output folder (local or any fsspec URL)::

    _temporary/run.json               what this attempt scores (resume must match it)
    _temporary/part-000003.parquet    a part (done once its record exists)
    _temporary/profile-000003.json    its monitoring profile (when the model has a baseline)
    _temporary/part-000003.json       its record: written last, so it marks the part done
    _temporary/_rejects/part-000003.parquet
    part-000003.parquet               after commit
    _rejects/part-000003.parquet      after commit
    _profile.json                     the part profiles merged (before the manifest)
    _manifest.json, _SUCCESS          written last: the output is complete

Readers that follow the Spark/Hadoop convention skip names starting with ``_``, so a failed
run leaves only ``_temporary/`` behind, which no reader takes for data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.batch.manifest import MANIFEST, Manifest, PartResult
from conveyor.batch.profiling import PROFILE, PartProfiler
from conveyor.core.errors import OutputError

if TYPE_CHECKING:
    import fsspec
    import pandas as pd

STAGING = "_temporary"
REJECTS = "_rejects"
SUCCESS = "_SUCCESS"
RUN = "run.json"
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

    def _path(self, *names: str) -> str:
        return "/".join([self.root, *names])

    # --- before the run ---------------------------------------------------------------

    def committed_manifest(self) -> Manifest | None:
        fs = self.fs
        path = self._path(MANIFEST)
        if not fs.exists(path):
            return None
        with fs.open(path, "r") as handle:
            return Manifest.from_dict(json.load(handle))

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
        if exists:
            strangers = [p for p in fs.ls(self.root, detail=False) if not _OURS.match(p.rstrip("/").rsplit("/", 1)[-1])]
            if strangers:
                raise OutputError(
                    f"{self.url} is not empty and is not a conveyor output ({len(strangers)} other entries)",
                    hint="point --output at an empty or new folder",
                )
        done: dict[int, PartResult] = {}
        previous = self._read_json(self._path(STAGING, RUN))
        if resume and previous is not None:
            if previous != run:
                changed = sorted(k for k in set(previous) | set(run) if previous.get(k) != run.get(k))
                raise OutputError(
                    f"cannot resume into {self.url}: the earlier attempt differs in {changed}",
                    hint="resume with the same model version, input, batch size and engine, "
                    "or drop --resume to start over",
                )
            done = self.finished_parts()
        else:
            for entry in fs.ls(self.root, detail=False) if exists else []:
                fs.rm(entry, recursive=True)
        fs.makedirs(self._path(STAGING, REJECTS), exist_ok=True)
        self._write_json(self._path(STAGING, RUN), run)
        return done

    def finished_parts(self) -> dict[int, PartResult]:
        fs = self.fs
        out: dict[int, PartResult] = {}
        for path in fs.glob(self._path(STAGING, "part-*.json")):
            record = self._read_json(path)
            if record is not None:
                part = PartResult.from_dict(record)
                out[part.index] = part
        return out

    # --- during the run (any process) ---------------------------------------------------

    def write_part(
        self,
        part: PartResult,
        output: pd.DataFrame,
        rejected: pd.DataFrame,
        constants: dict[str, str] | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """Write one part's files and profile, then its record (written last, it marks the part done).

        The Parquet files go straight to their staged names: until the record exists a
        resume rewrites them, and only recorded parts are ever committed.
        """
        self._write_parquet(output, self._path(STAGING, part.name), constants or {})
        if len(rejected):
            self._write_parquet(rejected, self._path(STAGING, REJECTS, part.name), {})
        if profile is not None:
            self._write_json(self._profile_path(part), profile)
        self._write_json(self._path(STAGING, part.name.replace(".parquet", ".json")), part.to_dict())

    # --- at the end -----------------------------------------------------------------------

    def merge_profiles(self, profiler: PartProfiler, parts: list[PartResult]) -> dict[str, Any] | None:
        """Merge the staged part profiles into ``_profile.json``; the manifest's reference to it."""
        profiles = [p for p in (self._read_json(self._profile_path(part)) for part in parts) if p is not None]
        merged = profiler.merge(profiles)
        if merged is None:
            return None
        self._write_json(self._path(PROFILE), merged)
        return {"path": PROFILE, "rows": int(merged["rows"]), "parts": len(profiles)}

    def _profile_path(self, part: PartResult) -> str:
        return self._path(STAGING, f"profile-{part.index:06d}.json")

    def commit(self, manifest: Manifest) -> str:
        """Move staged parts into place, then write the manifest and _SUCCESS last."""
        fs = self.fs
        for part in manifest.parts:
            staged, final = self._path(STAGING, part.name), self._path(part.name)
            if fs.exists(staged):
                fs.mv(staged, final)
            elif not fs.exists(final):  # moved by an interrupted commit, or never written
                raise OutputError(f"part {part.name} is missing from {self.url}", hint="rerun without --resume")
            if part.rejected:
                staged = self._path(STAGING, REJECTS, part.name)
                if fs.exists(staged):
                    fs.makedirs(self._path(REJECTS), exist_ok=True)
                    fs.mv(staged, self._path(REJECTS, part.name))
        self._write_json(self._path(MANIFEST), manifest.to_dict())
        with fs.open(self._path(SUCCESS), "wb"):
            pass
        fs.rm(self._path(STAGING), recursive=True)
        return self._path(MANIFEST)

    # --- helpers --------------------------------------------------------------------------

    def _write_parquet(self, frame: pd.DataFrame, path: str, constants: dict[str, str]) -> None:
        """``frame`` plus one string column per constant (built in Arrow, not per row in pandas).

        Only non-numeric columns are dictionary-encoded: numbers (ids, probabilities) rarely
        repeat, and trying costs more than the whole rest of the write.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        for name, value in constants.items():
            table = table.append_column(name, pa.repeat(pa.scalar(value, pa.large_string()), len(table)))
        numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_temporal)
        dictionary = [f.name for f in table.schema if not any(test(f.type) for test in numeric)]
        with self.fs.open(path, "wb") as handle:
            pq.write_table(table, handle, use_dictionary=dictionary)

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
