"""Plain NumPy reference of the profile simulator, for tests only.

The same formulas as ``xrdsim/simulation/ops_kernel.py``, written one pattern at a time
with NumPy and SciPy and without any of the kernel's tricks: the counter-based RNG in
Python/NumPy uint64 arithmetic, binning with ``np.add.at``, the half window by
``scipy.optimize.brentq``, and each bin's share of a peak as the integral of the exact
asymmetric pseudo-Voigt over the bin by 16-point Gauss–Legendre quadrature (the kernel
uses a Hermite-interpolated cumulative table instead).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from xrdsim.grid import BIN_WIDTH, N_BINS, bin_index, convert_two_theta
from xrdsim.simulation import rng as streams
from xrdsim.simulation.config import SimulationConfig
from xrdsim.wavelengths import KALPHA_DOUBLETS

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SEED_SALT = 0x243F6A8885A308D3
GL_X, GL_W = np.polynomial.legendre.leggauss(16)
NORMAL_M = 8192


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def pattern_key(seed: int, structure_key: int, view: int) -> int:
    k = mix(seed ^ SEED_SALT)
    k = mix(k ^ structure_key)
    return mix((k + (view + 1) * GOLDEN) & MASK)


def uniforms(key: int, stream: int, counters: np.ndarray) -> np.ndarray:
    """uniform(mix(key ^ stream·γ), counter) for an array of counters, float64."""
    skey = np.uint64(mix(key ^ ((stream * GOLDEN) & MASK)))
    c = np.asarray(counters, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = skey + (c + np.uint64(1)) * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def pv_shape(u: np.ndarray, eta: float, rho: float) -> np.ndarray:
    """F(u) = [(1−η)·G(u) + η·L(u)]·(1 − ρ·erf(u)), unit FWHM, unit area for ρ = 0."""
    ln2 = math.log(2.0)
    g = 2.0 * math.sqrt(ln2 / math.pi) * np.exp(-4.0 * ln2 * u * u)
    lor = (2.0 / math.pi) / (1.0 + 4.0 * u * u)
    return ((1.0 - eta) * g + eta * lor) * (1.0 - rho * special.erf(u))


def half_window(eta: float, cutoff: float) -> float:
    f = lambda k: (1 - eta) * math.exp(-4 * math.log(2) * k * k) + eta / (1 + 4 * k * k) - cutoff  # noqa: E731
    return optimize.brentq(f, 0.0, 50.0, xtol=1e-14)


def fwhm(two_theta: np.ndarray, p: dict[str, float], config: SimulationConfig) -> np.ndarray:
    th = np.deg2rad(two_theta / 2.0)
    f2 = p["profile.U"] * np.tan(th) ** 2 + p["profile.V"] * np.tan(th) + p["profile.W"]
    f2 = f2 + p["profile.P"] / np.cos(th) ** 2
    if config.enabled("sample_broadening"):
        size = 0.9 * config.wavelength / (p["sample_broadening.size"] * 10.0 * np.cos(th))
        extra = np.rad2deg(size + 4.0 * p["sample_broadening.strain"] * np.tan(th))
        f2 = f2 + extra**2
    return np.sqrt(f2)


def profile(sticks: np.ndarray, p: dict[str, float], config: SimulationConfig) -> np.ndarray:
    eta, rho = p["profile.eta"], p["profile.rho"]
    k = half_window(eta, config.op("profile").settings["tail_cutoff"])
    centres = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
    y = np.zeros(N_BINS)
    for i in np.flatnonzero(sticks):
        gamma = fwhm(centres[i : i + 1], p, config)[0]
        m = int(k * gamma / BIN_WIDTH) + 2
        j = np.arange(max(0, i - m), min(N_BINS, i + m + 1))
        a = np.clip((centres[j] - BIN_WIDTH / 2 - centres[i]) / gamma, -k, k)
        b = np.clip((centres[j] + BIN_WIDTH / 2 - centres[i]) / gamma, -k, k)
        # ∫_a^b F(u) du by Gauss–Legendre on each bin
        u = 0.5 * (b - a)[:, None] * GL_X[None, :] + 0.5 * (a + b)[:, None]
        integral = 0.5 * (b - a) * (pv_shape(u, eta, rho) * GL_W[None, :]).sum(axis=1)
        y[j] += sticks[i] * integral
    return y


def reference_pattern(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    config: SimulationConfig,
    p: dict[str, float],
    key: int,
) -> np.ndarray:
    """One pattern (12000,) float64 from the given parameters and pattern key."""
    on = config.enabled
    tt = np.asarray(two_theta, dtype=np.float64)
    n = tt.size
    shift = np.zeros(n)
    if on("zero_shift"):
        shift = shift + p["zero_shift.delta"]
    if on("position_noise"):
        u = uniforms(key, streams.STREAM_POSITION, np.arange(n))
        shift = shift + p["position_noise.amplitude"] * (2.0 * u - 1.0)
    y = np.asarray(intensity, dtype=np.float64)
    if on("intensity_noise"):
        u = uniforms(key, streams.STREAM_INTENSITY, np.arange(n))
        y = y * (1.0 + p["intensity_noise.amplitude"] * (2.0 * u - 1.0))
    if on("doublet"):
        lam1, lam2 = KALPHA_DOUBLETS[config.op("doublet").settings["anode"]]
        r = p["doublet.ratio"]
        with np.errstate(invalid="ignore"):
            x1 = convert_two_theta(tt, from_wavelength=config.wavelength, to_wavelength=lam1)
            x2 = convert_two_theta(tt, from_wavelength=config.wavelength, to_wavelength=lam2)
        lines = [(x1 + shift, y / (1.0 + r)), (x2 + shift, y * r / (1.0 + r))]
    else:
        lines = [(tt + shift, y)]
    sticks = np.zeros(N_BINS)
    counts = np.zeros(N_BINS)
    for x, w in lines:
        keep = np.isfinite(x)
        if on("peak_crop"):
            keep &= (x >= p["peak_crop.low"]) & (x <= p["peak_crop.high"])
        j = bin_index(np.where(keep, x, -1.0))
        np.add.at(sticks, j[j >= 0], w[j >= 0])
        np.add.at(counts, j[j >= 0], 1.0)
    if config.op("binning").settings["mode"] == "mean":
        sticks = np.where(counts > 1, sticks / np.maximum(counts, 1), sticks)
    if on("impurity"):
        s = config.op("impurity")
        lo, hi = s.settings["two_theta_range"]
        ilo, ihi = s.params["intensity"].values[0], s.params["intensity"].values[-1]
        base = sticks.max()
        if base > 0:
            for m in range(int(p["impurity.count"])):
                u = uniforms(key, streams.STREAM_IMPURITY, np.array([2 * m, 2 * m + 1]))
                j = min(int(math.floor((lo + (hi - lo) * u[0]) / BIN_WIDTH)), N_BINS - 1)
                sticks[j] += (ilo + (ihi - ilo) * u[1]) * base
    out = profile(sticks, p, config) if on("profile") else sticks
    if out.max() > 0:
        out = out / out.max()
    t = (np.arange(N_BINS) + 0.5) / N_BINS
    if on("background"):
        c = [p[f"background.c{i}"] for i in range(4)]
        out = out + sum(c[i] * special.comb(3, i) * t**i * (1 - t) ** (3 - i) for i in range(4))
    if on("counting_noise"):
        u = uniforms(key, streams.STREAM_COUNTING, np.arange(N_BINS))
        nodes = (np.arange(NORMAL_M) + 0.5) / NORMAL_M
        z = np.interp(u, nodes, special.ndtri(nodes))
        noise = np.sqrt(np.maximum(out, 0.0) / p["counting_noise.counts"]) * z
        out = np.where(out > 0, out + noise, out)
    if on("background_noise"):
        spacing = max(p["background_noise.dilation"], 1.0)
        pos = np.arange(N_BINS) / spacing
        knots = p["background_noise.amplitude"] * (
            2.0 * uniforms(key, streams.STREAM_BACKGROUND, np.arange(int(pos[-1]) + 3)) - 1.0
        )
        out = out + np.interp(pos, np.arange(knots.size), knots)
    if on("renormalize") and out.max() > 0:
        out = out / out.max()
    if on("final_crop"):
        x = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
        out = np.where((x < p["final_crop.low"]) | (x > p["final_crop.high"]), 0.0, out)
    return out
