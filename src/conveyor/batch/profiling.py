"""Hook for monitoring profiles (must-deliver 7 of the batch issue): NOT IMPLEMENTED YET.

When ``conveyor.monitoring`` ships mergeable profiles, a batch run should profile each
part's inputs and outputs where the part is scored (worker process or Spark task) and merge
the per-part profiles on the driver. The seam is already in place:

- :class:`PartProfiler` is called by every engine with each part's input and output frames
  and returns a JSON-able, mergeable profile (or None);
- :meth:`PartProfiler.merge` folds the per-part profiles; the result lands in the manifest's
  ``profiles`` field (``None`` today).

Today :data:`NO_PROFILES` is used everywhere, so batch runs record no profiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd


class PartProfiler(Protocol):
    def profile(self, inputs: "pd.DataFrame", outputs: "pd.DataFrame") -> dict[str, Any] | None: ...

    def merge(self, profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None: ...


class NoProfiles:
    """The placeholder profiler: profiles nothing (monitoring profiles do not exist yet)."""

    def profile(self, inputs: "pd.DataFrame", outputs: "pd.DataFrame") -> dict[str, Any] | None:
        return None

    def merge(self, profiles: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        return None


NO_PROFILES = NoProfiles()
