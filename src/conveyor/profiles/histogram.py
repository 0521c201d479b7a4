"""Fixed histogram edges and binning: edges at the reference quantiles (open outer bins), and
the bin of each value through a lookup table with an exact binary search where it is unsure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def fit_edges(values: np.ndarray, bins: int) -> tuple[float, ...]:
    """Distinct quantiles (``bins`` + 1, numpy's linear method) of the finite values."""
    finite = values[~np.isnan(values)]  # a copy: partitioned in place below
    if not len(finite):
        return ()
    q = np.linspace(0.0, 1.0, bins + 1)
    below, above = _quantile_neighbours(q, len(finite))
    finite.partition(np.unique(np.concatenate([below, above])))  # only those ranks in order
    return tuple(float(e) for e in np.unique(sorted_quantiles(finite, q)))


PROBE_VALUES = 4096


def discrete_edges(values: np.ndarray, bins: int) -> tuple[float, ...] | None:
    """Edges giving one bin per distinct finite value when there are at most ``bins`` of
    them: the values, then the next float above the largest (the last edge closes the last
    inner bin, so the largest value has its own bin). None when there are more."""
    finite = values[~np.isnan(values)]
    if not len(finite) or len(np.unique(finite[:PROBE_VALUES])) > bins:
        return None  # a continuous column is told apart on its first values, without a sort
    distinct = np.unique(finite)
    if len(distinct) > bins:
        return None
    top = float(distinct[-1])
    return (*(float(v) for v in distinct), float(np.nextafter(top, np.inf)))


def _quantile_neighbours(q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ranks just below and above each quantile's position among ``n`` ordered values."""
    position = q * (n - 1)
    below = np.floor(position).astype(np.int64)
    return below, np.minimum(below + 1, n - 1)


def sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, q)`` from data whose ranks next to each quantile are in sorted
    position (sorted data, or data partitioned at those ranks), without numpy's own pass."""
    position = q * (len(ordered) - 1)
    below, above = _quantile_neighbours(q, len(ordered))
    t = position - below
    a, b = ordered[below], ordered[above]
    diff = b - a
    return np.asarray(np.where(t >= 0.5, b - diff * (1 - t), a + diff * t))  # numpy's _lerp


def histogram(finite: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Counts per bin of :func:`bin_index` (a binary search among the edges, no sort)."""
    if not edges:
        return np.array([len(finite)], dtype=np.int64)
    return np.bincount(_bin_index(finite, edges), minlength=len(edges) + 1).astype(np.int64)



def histogram_sums(finite: np.ndarray, edges: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Counts per bin (as :func:`histogram`) and the sum of the values in each bin."""
    if not edges:
        return np.array([len(finite)], dtype=np.int64), np.array([float(np.sum(finite))])
    index = _bin_index(finite, edges)
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.int64)
    return counts, np.bincount(index, weights=finite, minlength=len(edges) + 1).astype(float)


def bin_index(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Bin of each value: 0 below the first edge, i for [e[i-1], e[i]), the last edge closes
    the last inner bin, len(edges) above it."""
    return _bin_index(values, edges)


def _bin_index(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    if not edges:
        return np.zeros(len(values), dtype=np.int64)
    table = _bin_table(edges) if len(values) >= LOOKUP_MIN_VALUES else None
    if table is None:
        return _searched_bins(values, np.asarray(edges, dtype=float))
    return table.bins(values)


def _searched_bins(values: np.ndarray, edge_array: np.ndarray) -> np.ndarray:
    index = np.searchsorted(edge_array, values, side="right")
    if len(edge_array) > 1:
        index[values == edge_array[-1]] = len(edge_array) - 1
    return index


LOOKUP_MIN_VALUES = 2048  # below this a binary search per value is as fast
LOOKUP_CELLS = 16384


@dataclass(frozen=True)
class _BinTable:
    """Bins through a lookup table over equal-width cells of [first edge, last edge): a value's
    cell (one multiply) gives its bin directly unless an edge lies near that cell; those values,
    and any outside the range, get the exact binary search. Each cell's entry is the bin range
    of a window two cells wider on each side, far more than the rounding error of computing the
    cell, so the table never gives a bin the search would not."""

    edges: np.ndarray
    low: float
    scale: float  # cells per unit
    first: np.ndarray  # smallest possible bin per cell
    last: np.ndarray  # largest possible bin per cell

    def bins(self, values: np.ndarray) -> np.ndarray:
        cells = (values - self.low) * self.scale
        with np.errstate(invalid="ignore"):
            cell = cells.astype(np.intp)  # NaN/inf give nonsense here; they are caught below
        np.clip(cell, 0, LOOKUP_CELLS - 1, out=cell)
        out = self.first[cell]
        unsure = out != self.last[cell]
        unsure |= ~((cells >= 0) & (cells < LOOKUP_CELLS))  # outside the range, or NaN
        rest = np.flatnonzero(unsure)
        if len(rest):
            out[rest] = _searched_bins(values[rest], self.edges)
        return out


@lru_cache(maxsize=128)  # 128 KiB per table
def _bin_table(edges: tuple[float, ...]) -> _BinTable | None:
    edge_array = np.asarray(edges, dtype=float)
    low, high = float(edge_array[0]), float(edge_array[-1])
    if len(edge_array) < 8 or not (np.isfinite(low) and np.isfinite(high) and high > low):
        return None
    width = (high - low) / LOOKUP_CELLS
    if width <= 1e-9 * max(abs(low), abs(high)):
        return None  # a range too narrow for the margin argument: search instead
    bounds = low + width * np.arange(-2, LOOKUP_CELLS + 3)  # bounds[k + 2] = start of cell k
    # values in cell k lie in [start of k-2, start of k+3) even after rounding
    first = np.searchsorted(edge_array, bounds[:LOOKUP_CELLS], side="right")
    last = np.searchsorted(edge_array, bounds[5:LOOKUP_CELLS + 5], side="left")
    # the last edge closes the last inner bin: never report the bin above it from the table
    first = np.where(bounds[5:LOOKUP_CELLS + 5] > high, -1, first)
    return _BinTable(edge_array, low, 1.0 / width, first.astype(np.int32), last.astype(np.int32))
