"""Drift statistics on histograms and counts (profiles), plus exact tests on raw samples.

Every function takes plain arrays so it can be checked against scipy on raw data.
Conventions: Jensen–Shannon distance uses the natural logarithm (as scipy and Evidently do;
its maximum is sqrt(ln 2) ≈ 0.833); PSI replaces empty proportions by ``PSI_EPSILON``.
"""

from __future__ import annotations

import numpy as np

PSI_EPSILON = 1e-4


def proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: sum of (q - p) * ln(q / p) over bins."""
    p = np.clip(proportions(reference), PSI_EPSILON, None)
    q = np.clip(proportions(current), PSI_EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance (square root of the divergence, natural log)."""
    from scipy.spatial.distance import jensenshannon

    p, q = proportions(reference), proportions(current)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    value = float(jensenshannon(p, q))
    return 0.0 if np.isnan(value) else value


def wasserstein_hist(
    edges: np.ndarray,
    reference: np.ndarray,
    current: np.ndarray,
    reference_sums: np.ndarray | None = None,
    current_sums: np.ndarray | None = None,
    discrete: bool = False,
) -> float:
    """Wasserstein-1 distance (the area between the two CDFs) of two histograms over the same
    fixed edges: bin 0 below the first edge, [e0, e1), ..., [e_k-1, e_k] closed, one above.

    With the sum of the values in each bin (``*_sums``), the integral of each CDF over a bin is
    exact: ``F(l) * width + mass * (r - mean)``, and beyond the edges ``mass * (e0 - mean)``
    below and ``mass * (mean - e_last)`` above (how far the tails went). The area of a bin is
    then exact whenever the CDF difference keeps its sign inside it (always for a ``discrete``
    schema, whose bins each hold one value at their left edge); where it changes sign between
    the bin's edges the mass is taken as uniform within the bin. Without sums, mass is uniform
    within every inner bin and the outer bins add nothing.
    """
    edges = np.asarray(edges, dtype=float)
    counts_p, counts_q = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if counts_p.sum() == 0 or counts_q.sum() == 0 or not len(edges):
        return 0.0
    p, q = proportions(counts_p), proportions(counts_q)
    width = np.diff(edges)
    d = np.cumsum(p - q)[:-1]  # the CDF difference at each edge
    d0, d1 = d[:-1], d[1:]  # at the start and the end of each inner bin
    total = np.abs(d0) + np.abs(d1)
    uniform = np.where(
        d0 * d1 >= 0,
        total / 2.0,
        np.divide(d0 * d0 + d1 * d1, 2.0 * total, out=np.zeros_like(total), where=total > 0),
    ) * width
    if reference_sums is None or current_sums is None:
        return float(np.sum(uniform))
    offset_p = _within(edges, counts_p, np.asarray(reference_sums, dtype=float), p)
    offset_q = _within(edges, counts_q, np.asarray(current_sums, dtype=float), q)
    offset = offset_p - offset_q
    exact = np.abs(d0 * width + offset[1:-1])
    inner = exact if discrete else np.where(d0 * d1 >= 0, exact, uniform)
    return float(np.sum(inner) + abs(offset[0]) + abs(offset[-1]))


def _within(edges: np.ndarray, counts: np.ndarray, sums: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Per bin, what its own mass adds to the integral of the CDF over it: inner bins
    ``share * (right edge - mean)``; below the edges ``share * (e0 - mean)`` (the integral of
    the CDF up to e0); above them ``share * (mean - e_last)`` (of the survival function)."""
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    right = np.concatenate([[edges[0]], edges[1:], [edges[-1]]])
    out = share * (right - mean)
    out[-1] = -out[-1]
    return np.where(counts > 0, out, 0.0)


def ks_binned(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov on binned data: D at the bin edges (a lower bound of the
    raw-data D, so the test is conservative) and its asymptotic p-value."""
    from scipy.special import kolmogorov

    n, m = float(np.sum(reference)), float(np.sum(current))
    if n == 0 or m == 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(proportions(reference)) - np.cumsum(proportions(current)))))
    en = n * m / (n + m)
    return d, float(min(1.0, kolmogorov(np.sqrt(en) * d)))


def ks_exact(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS on raw values (scipy picks the exact distribution for small samples)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current, method="auto")
    return float(result.statistic), float(result.pvalue)


def chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on a 2 x K table of counts.

    Categories with an expected count below 5 are pooled into one cell so the
    approximation holds on small samples. The statistic and p-value are scipy's
    ``chi2_contingency(table, correction=False)``, computed here (scipy.stats takes a second
    to import).
    """
    from scipy.special import chdtrc

    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if len(ref) < 2 or ref.sum() == 0 or cur.sum() == 0:
        return 0.0, 1.0
    share_cur = cur.sum() / (ref.sum() + cur.sum())
    expected_min = np.minimum((ref + cur) * share_cur, (ref + cur) * (1 - share_cur))
    small = expected_min < 5
    if small.any():
        pooled_ref = np.append(ref[~small], ref[small].sum())
        pooled_cur = np.append(cur[~small], cur[small].sum())
        ref, cur = pooled_ref, pooled_cur
        keep = (ref + cur) > 0
        ref, cur = ref[keep], cur[keep]
    if len(ref) < 2:
        return 0.0, 1.0
    table = np.vstack([ref, cur])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(chdtrc(table.shape[1] - 1, statistic))


def two_proportions(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of a two-proportion z-test (1.0 when undefined)."""
    from scipy.special import ndtr

    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if k1 / n1 == k2 / n2 else 0.0
    z = (k2 / n2 - k1 / n1) / se
    return float(2 * ndtr(-abs(z)))  # the normal's two tails


def decile_groups(reference: np.ndarray, groups: int = 10) -> list[np.ndarray]:
    """Group fine histogram bins into ~``groups`` bins of equal reference mass (the
    textbook PSI bins at baseline quantiles); open outer bins join the first/last group."""
    cumulative = np.cumsum(proportions(reference))
    cuts: list[int] = []
    for k in range(1, groups):
        index = int(np.argmin(np.abs(cumulative - k / groups)))
        if (not cuts or index > cuts[-1]) and index < len(cumulative) - 1:
            cuts.append(index)
    bounds = [0, *[c + 1 for c in cuts], len(cumulative)]
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def regroup(counts: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    counts = np.asarray(counts)
    return np.array([counts[g].sum() for g in groups])
