"""The plan's steps: the logistic function equals scipy's (what scikit-learn calls) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from conveyor.inference import steps

EDGES = [0.0, -0.0, 1e-300, -1e-300, 36.7, -36.7, 709.0, -709.0, 710.0, -710.0, 745.2, -745.2,
         1e308, -1e308, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("size", [1, 64, steps.SMALL_EXPIT, steps.SMALL_EXPIT + 1, 50_000])
def test_expit_equals_scipys_bit_for_bit(size: int) -> None:
    rng = np.random.default_rng(size)
    values = np.concatenate([EDGES, rng.normal(0, 1, size), rng.normal(0, 40, size), rng.uniform(-800, 800, size)])
    values = values[:size] if size < len(EDGES) else values[: max(size, len(EDGES))]
    ours = steps._expit(values.copy())
    expected = expit(values)
    assert ours.dtype == np.float64 and ours.shape == expected.shape
    assert np.array_equal(ours, expected, equal_nan=True)
