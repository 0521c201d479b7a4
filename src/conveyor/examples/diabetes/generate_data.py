"""scikit-learn's bundled diabetes data (no download), unscaled, as a table with the
disease `progression` one year later as the label and `sex` as a category.

``rows`` keeps at most that many patients (seeded, without replacement); ``drift`` > 0
shifts bmi and blood pressure for monitoring demos.

    python generate_data.py --out data/train.parquet
    python generate_data.py --seed 8 --drift 1.0 --out data/drifted.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes


def generate(rows: int = 5000, seed: int = 7, drift: float = 0.0) -> pd.DataFrame:
    """The patients and their progression. Same arguments, same frame."""
    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.frame.rename(columns={"target": "progression"})
    frame["sex"] = np.where(frame["sex"] == 1.0, "a", "b")
    rng = np.random.default_rng(seed)
    if rows < len(frame):
        frame = frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]
    if drift > 0:
        for column in ("bmi", "bp"):
            frame[column] = frame[column] + drift * frame[column].std()
    return frame.reset_index(drop=True)


def write(path: str | Path, rows: int = 5000, seed: int = 7, drift: float = 0.0) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed, drift).to_parquet(out, index=False)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drift", type=float, default=0.0)
    parser.add_argument("--out", default="data/train.parquet")
    args = parser.parse_args()
    print(write(args.out, args.rows, args.seed, args.drift))
