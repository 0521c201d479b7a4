"""Deterministic synthetic churn data: numeric, categorical, a time column, a sensitive
attribute and missing values. ``drift`` > 0 produces a shifted batch for monitoring demos.

    python generate_data.py --rows 5000 --seed 7 --out data/train.parquet
    python generate_data.py --rows 2000 --seed 8 --drift 1.0 --out data/drifted.parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west", "central"]
PAYMENTS = ["card", "bank_transfer", "invoice"]


def generate(rows: int = 5000, seed: int = 7, drift: float = 0.0) -> pd.DataFrame:
    """Customers and whether they churned. Same arguments, same frame."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01")
    signup_date = start + rng.integers(0, 730, rows).astype("timedelta64[D]")
    plan_p = np.array([0.45, 0.35, 0.20]) * (1 - drift * 0.5) + np.array([1.0, 0.0, 0.0]) * drift * 0.5
    plan = rng.choice(PLANS, rows, p=plan_p / plan_p.sum())
    region = rng.choice(REGIONS, rows, p=[0.25, 0.2, 0.2, 0.2, 0.15]).astype(object)
    if drift > 0:
        region[rng.random(rows) < 0.15 * min(drift, 1.0)] = "overseas"  # a category never seen
    payment = rng.choice(PAYMENTS, rows, p=[0.6, 0.25, 0.15])
    gender = rng.choice(["female", "male"], rows)
    tenure = np.clip(rng.gamma(2.0, 12.0, rows), 0, 72).round(0)
    base_charge = {"basic": 30.0, "standard": 60.0, "premium": 95.0}
    monthly = np.array([base_charge[p] for p in plan]) + rng.normal(0, 8, rows) + drift * 15.0
    support_calls = rng.poisson(1.2 + drift * 1.5, rows).astype(float)
    total = monthly * np.maximum(tenure, 1) * rng.uniform(0.9, 1.1, rows)

    logit = (
        -0.9
        - 0.09 * tenure
        + 0.035 * (monthly - 60)
        + 0.85 * support_calls
        + np.where(payment == "invoice", 1.0, 0.0)
        + np.where(plan == "basic", 0.5, 0.0)
        + np.where(region == "south", 0.4, 0.0)
    )
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows) + seed * 1_000_000,
            "signup_date": pd.to_datetime(signup_date),
            "tenure_months": tenure,
            "monthly_charges": monthly.round(2),
            "total_charges": total.round(2),
            "support_calls": support_calls,
            "plan": plan,
            "region": region,
            "payment_method": payment,
            "gender": gender,
            "churned": churned,
        }
    )
    # Realistic gaps: some charges unknown, some regions unrecorded.
    frame.loc[rng.random(rows) < 0.02, "monthly_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "total_charges"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "region"] = None
    return frame


def write(path: str | Path, rows: int = 5000, seed: int = 7, drift: float = 0.0) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame = generate(rows=rows, seed=seed, drift=drift)
    if target.suffix == ".csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_parquet(target, index=False)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drift", type=float, default=0.0)
    parser.add_argument("--out", default="data/train.parquet")
    args = parser.parse_args()
    print(write(args.out, rows=args.rows, seed=args.seed, drift=args.drift))


if __name__ == "__main__":
    main()
