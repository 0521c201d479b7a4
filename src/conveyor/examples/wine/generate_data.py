"""scikit-learn's bundled wine data (no download) as a table with a `cultivar` label.

``rows`` keeps at most that many wines (seeded, without replacement: no duplicates between
train and test rows); ``drift`` > 0 shifts the chemistry for monitoring demos.

    python generate_data.py --out data/train.parquet
    python generate_data.py --seed 8 --drift 1.0 --out data/drifted.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

CULTIVARS = ["barolo", "grignolino", "barbera"]


def generate(rows: int = 5000, seed: int = 7, drift: float = 0.0) -> pd.DataFrame:
    """The wines and their cultivar. Same arguments, same frame."""
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315_of_diluted_wines"})
    frame["cultivar"] = [CULTIVARS[int(i)] for i in frame.pop("target")]
    rng = np.random.default_rng(seed)
    if rows < len(frame):
        frame = frame.iloc[np.sort(rng.choice(len(frame), rows, replace=False))]
    if drift > 0:
        for column in ("alcohol", "color_intensity", "proline"):
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
