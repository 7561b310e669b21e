"""Poisson counting noise: the sampler's law against scipy's Poisson, its moments in
rendered patterns, pinned counts for a key, and the noise ops restricted to the scan."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from xrdsim.grid import N_BINS
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.noise_kernel import (
    POISSON_NORMAL_MIN,
    add_background_noise,
    add_poisson,
    normal_count,
    normal_quantile,
    poisson,
)
from xrdsim.simulation.rng import STREAM_POISSON, stream_key
from xrdsim.simulation.simulator import simulate_batch

SKEY = stream_key(np.uint64(0xC0FFEE), STREAM_POISSON)


def _cfg(ops: dict) -> SimulationConfig:
    return SimulationConfig.from_dict({"wavelength": 1.5418, "ops": ops})


def test_normal_quantile_matches_scipy_ndtri():
    """AS 241 against scipy to 1e-15 relative from the centre to the uniforms' extremes."""
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 2001), [0.075, 0.925, 0.0749999, 2.0**-53],
                        np.geomspace(2.0**-53, 0.1, 400), 1 - np.geomspace(2.0**-53, 0.1, 400)])
    got = np.array([normal_quantile(x) for x in u])
    np.testing.assert_allclose(got, special.ndtri(u), rtol=1e-15, atol=1e-15)
    assert normal_quantile(0.0) == normal_quantile(2.0**-54) == -normal_quantile(1.0)


def _law(lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Counts n and P(normal_count(λ, U) = n) of the kernel's own map u → count, exactly:
    the map is nondecreasing in u, so P(count ≤ n) is the u where it passes n (bisection)."""
    n = np.arange(max(0, int(lam - 12 * math.sqrt(lam))), int(lam + 12 * math.sqrt(lam)) + 2)
    cdf = np.empty(n.size)
    for i, k in enumerate(n):
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if normal_count(lam, mid) <= k else (lo, mid)
        cdf[i] = lo
    return n, np.diff(np.concatenate([[0.0], cdf]))


@pytest.mark.parametrize("lam", [POISSON_NORMAL_MIN, 73.4, 200.0, 1000.0, 3.0e4])
def test_normal_counts_are_within_the_stated_distance_of_poisson(lam):
    """docs/simulation.md: total variation distance to Poisson(λ) ≤ 0.021/λ (≤ 4.2e-4)."""
    n, p = _law(lam)
    q = stats.poisson.pmf(n, lam)
    tv = 0.5 * (np.abs(p - q).sum() + (1.0 - q.sum()) + (1.0 - p.sum()))
    assert tv <= 0.021 / lam
    mean = (n * p).sum()
    var = ((n - mean) ** 2 * p).sum()
    skew = ((n - mean) ** 3 * p).sum() / var**1.5
    assert abs(mean - lam) < 1e-3  # Poisson: mean = variance = λ, skewness 1/√λ
    assert abs(var / (lam + 1 / 12) - 1) < 0.05 / lam  # + the rounding's 1/12
    assert abs(skew * math.sqrt(lam) - 1) < 0.02


@pytest.mark.parametrize("counts", [4.0, 30.0, 60.0, 3000.0, 2.0e5])
def test_poisson_counts_have_mean_variance_and_skewness_of_the_counts(counts):
    """Flat level 1 (the Bernstein basis sums to one): N·y ~ Poisson(N) in every bin, by
    inversion (4), PTRS (30) or the corrected normal (60 and up)."""
    ops = {"background": {f"c{i}": 1.0 for i in range(4)}, "poisson_noise": {"counts": counts}}
    res = simulate_batch(np.array([]), np.array([]), np.array([0, 0, 0, 0]), _cfg(ops), seed=1,
                         structure_keys=[1, 2, 3], views=0)
    k = res.patterns.astype(np.float64) * counts
    assert np.allclose(k, np.round(k), atol=1e-3 * max(1.0, counts / 1000))  # whole counts
    n = k.size  # 36,000 bins: mean, variance within ~4 standard errors, skewness ~5
    assert abs(k.mean() - counts) < 4 * math.sqrt(counts / n)
    assert abs(k.var() / counts - 1) < 4 * math.sqrt(2 / n)
    assert abs(stats.skew(k, axis=None) - 1 / math.sqrt(counts)) < 5 * math.sqrt(6 / n)


def test_add_poisson_draws_what_poisson_draws_bin_by_bin():
    """The kernel's loop (normal bins first, the rest listed) against the one-bin sampler:
    the same count in every bin, on λ ≤ 0, both sides of the switches at 10 and 50 and up
    to 3·10⁶; bins outside [jlo, jhi) are left as they were."""
    lam = np.concatenate([[0.0, -1.0, 9.999999, 10.0, 49.99999, 50.0],
                          np.geomspace(1e-3, 3e6, N_BINS - 6)])  # fmt: skip
    counts = 250.0
    y = lam / counts
    want = np.array([poisson(v, SKEY, j) * (1.0 / counts) if v > 0.0 else 0.0
                     for j, v in enumerate(y * counts)])  # fmt: skip
    jlo, jhi = 3, N_BINS - 7
    want[:jlo], want[jhi:] = y[:jlo], y[jhi:]
    add_poisson(y, counts, SKEY, jlo, jhi)
    np.testing.assert_array_equal(y, want)


def test_poisson_counts_pinned_for_a_key():
    """The counts of one key, pinned: a change of the sampler shows here (and in
    data_manifests/default.json) before it reaches a store."""
    lam = [0.5, 3.0, 9.0, 10.0, 25.0, 49.0, 50.0, 120.0, 1.0e3, 4.0e4, 1.0e6]
    got = [poisson(v, SKEY, j) for j, v in enumerate(lam)]
    assert got == [0.0, 6.0, 7.0, 12.0, 28.0, 41.0, 44.0, 119.0, 1018.0, 39839.0, 1000474.0]


def test_background_noise_on_a_range_equals_the_full_pattern_there():
    """Knot k comes from counter k, so starting at bin jlo gives the full pattern's values."""
    full = np.zeros(N_BINS)
    add_background_noise(full, 0.3, 3.7, SKEY, 0, N_BINS)
    part = np.zeros(N_BINS)
    add_background_noise(part, 0.3, 3.7, SKEY, 1234, 9876)
    np.testing.assert_array_equal(part[1234:9876], full[1234:9876])
    assert not part[:1234].any() and not part[9876:].any()
