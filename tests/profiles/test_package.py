"""A batch or Spark worker loads profiles without monitoring's reports, triggers or the config
loader: checked in a fresh interpreter, where nothing else has been imported."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conveyor.batch.profiling import BatchProfiler
from conveyor.profiles import Profiler

FORBIDDEN = ("conveyor.monitoring", "conveyor.core.config", "conveyor.lifecycle", "conveyor.serving")

REPORT_MODULES = """
import json, sys
loaded = sorted(m for m in sys.modules if m.startswith("conveyor"))
print(json.dumps(loaded))
"""


def _loaded(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code + REPORT_MODULES], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(FORBIDDEN)]


def test_importing_profiles_loads_no_feature_module() -> None:
    loaded = _loaded("import conveyor.profiles, conveyor.profiles.stats\n")
    assert "conveyor.profiles.profiler" in loaded
    assert _forbidden(loaded) == []


def test_unpickling_a_batch_profiler_and_profiling_a_part_loads_no_feature_module(tmp_path: Path) -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "plan": ["a", "b", "a", "c"],
                              "__prediction__": [0, 1, 0, 1]})
    fitted = Profiler(["x"], ["plan", "__prediction__"]).fit(reference)
    assert fitted.schema_ is not None
    profiler = BatchProfiler(tuple(fitted.schema_.values()), ("x", "plan"))
    pickled = tmp_path / "profiler.pkl"
    pickled.write_bytes(pickle.dumps(profiler))
    code = f"""
import pickle
import pandas as pd
profiler = pickle.loads(open({str(pickled)!r}, "rb").read())
part = profiler.profile(pd.DataFrame({{"x": [1.5, 9.0], "plan": ["a", "z"]}}),
                        pd.DataFrame({{"prediction": [1, 0]}}))
merged = profiler.merge([part, part])
assert merged["rows"] == 4, merged
"""
    loaded = _loaded(code)
    assert "conveyor.batch.profiling" in loaded and "conveyor.profiles.merge" in loaded
    assert _forbidden(loaded) == []
