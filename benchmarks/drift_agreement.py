"""Per-feature drift verdicts of `--method evidently` against Evidently's own, on the datasets
scikit-learn bundles (wine, diabetes, breast cancer, iris): each split in random halves, once
as it is (no drift) and once with its first two features shifted by one standard deviation.
Evidently runs in its own venv (benchmarks/drift.py builds it; Evidently 0.7 needs pandas < 3).

    python benchmarks/drift_agreement.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import drift as bench  # the child scripts and the Evidently venv of the drift benchmark

SCENARIOS = ("as it is", "two features shifted")


def datasets() -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

    return {name: loader(as_frame=True).frame.drop(columns=["target"])
            for name, loader in (("wine", load_wine), ("diabetes", load_diabetes),
                                 ("breast_cancer", load_breast_cancer), ("iris", load_iris))}


def verdicts(python: str, script: str, folder: Path, numeric: list[str]) -> dict[str, Any]:
    done = subprocess.run([python, "-c", script, str(folder), json.dumps(numeric), json.dumps([])],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    evidently_python, version = bench.ensure_evidently()
    if evidently_python is None:
        print("Evidently's venv could not be built; nothing to compare")
        return
    total, disagree = 0, []
    with tempfile.TemporaryDirectory(prefix="conveyor-agreement-") as work:
        for name, frame in datasets().items():
            order = np.random.default_rng(0).permutation(len(frame))
            half = len(frame) // 2
            reference = frame.iloc[order[:half]].reset_index(drop=True)
            for scenario in SCENARIOS:
                current = frame.iloc[order[half:]].reset_index(drop=True)
                if scenario != SCENARIOS[0]:
                    for column in list(frame.columns)[:2]:
                        current[column] = current[column] + frame[column].std()
                folder = Path(work) / f"{name}-{SCENARIOS.index(scenario)}"
                folder.mkdir()
                reference.to_parquet(folder / "reference.parquet")
                current.to_parquet(folder / "current.parquet")
                numeric = [str(c) for c in frame.columns]
                ours = verdicts(sys.executable, bench.CONVEYOR_CHILD, folder, numeric)
                theirs = verdicts(str(evidently_python), bench.EVIDENTLY_CHILD, folder, numeric)
                for column in numeric:
                    total += 1
                    if ours["verdicts"][column] != theirs["verdicts"][column]:
                        disagree.append({"dataset": name, "scenario": scenario, "column": column,
                                         "conveyor": ours["scores"][column], "evidently": theirs["scores"][column]})
    agree = total - len(disagree)
    print(f"per-feature verdicts equal to Evidently {version}'s: {agree}/{total}; disagree: {disagree or 'none'}")
    print("RESULT " + json.dumps({"benchmark": "drift_agreement", "size": {"features": total},
                                  "anchor": {"evidently": version}, "conveyor": {"agree": agree},
                                  "ratios": {"agreement": round(agree / total, 4)}}))


if __name__ == "__main__":
    main()
