"""Plain NumPy reference of the profile simulator, for tests only.

The same formulas as the numba kernels (``xrdsim/simulation/*_kernel.py``), written one
pattern at a time with NumPy and SciPy and without any of the kernel's tricks: the
counter-based RNG in Python/NumPy uint64 arithmetic, binning with ``np.add.at``, the half
window by
``scipy.optimize.brentq``, and each bin's share of a peak as the integral of the exact
asymmetric pseudo-Voigt over the bin by 16-point Gauss–Legendre quadrature (the kernel uses
a Hermite-interpolated cumulative table instead). Lines are placed at their exact 2θ unless
the config says ``profile.positions: binned``; humps and the air-scatter rise are evaluated
in closed form at every bin (the kernel uses recurrences), Poisson counts by the same
inversion / PTRS / corrected-normal rules written in plain Python (the normal quantile from
``scipy.special.ndtri``, the kernel has its own AS 241).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import optimize, special

from xrdsim.grid import BIN_WIDTH, N_BINS, bin_index, convert_two_theta
from xrdsim.simulation import rng as streams
from xrdsim.simulation.config import SimulationConfig
from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA, TUNGSTEN_LALPHA1

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


def profile_lines(
    x: np.ndarray, s: np.ndarray, p: dict[str, float], config: SimulationConfig
) -> np.ndarray:
    """Each line at its exact 2θ: bin share = ∫ over [j·h, (j+1)·h] of F((2θ − x)/Γ(x))."""
    eta, rho = p["profile.eta"], p["profile.rho"]
    k = half_window(eta, config.op("profile").settings["tail_cutoff"])
    y = np.zeros(N_BINS)
    gammas = fwhm(x, p, config)
    for xi, si, gamma in zip(x, s, gammas, strict=True):
        if si == 0:
            continue
        j = np.arange(max(0, int((xi - k * gamma) / BIN_WIDTH) - 1),
                      min(N_BINS, int((xi + k * gamma) / BIN_WIDTH) + 2))
        a = np.clip((j * BIN_WIDTH - xi) / gamma, -k, k)
        b = np.clip(((j + 1) * BIN_WIDTH - xi) / gamma, -k, k)
        u = 0.5 * (b - a)[:, None] * GL_X[None, :] + 0.5 * (a + b)[:, None]
        y[j] += si * 0.5 * (b - a) * (pv_shape(u, eta, rho) * GL_W[None, :]).sum(axis=1)
    return y


def draw(config: SimulationConfig, name: str, u: float) -> float:
    """A per-item draw of parameter ``name`` from one uniform u (fixed/uniform/log/bands)."""
    op, par = name.split(".")
    d = config.op(op).params[par]
    v = d.values
    log = d.kind in ("loguniform", "logbands")
    if d.kind == "fixed":
        return v[0]
    edges = [math.log(x) for x in v] if log else list(v)
    widths = [edges[i + 1] - edges[i] for i in range(0, len(edges), 2)]
    t = u * sum(widths)
    x = edges[-1]
    for i, w in enumerate(widths):
        if t < w:
            x = edges[2 * i] + t
            break
        t -= w
    return math.exp(x) if log else x


def poisson(lam: float, key: int, j: int) -> float:
    """Poisson(λ) from the uniforms of bin j: inversion below λ = 10, PTRS up to 50, the
    Cornish–Fisher-corrected normal quantile of the bin's first uniform from 50 on."""
    base = 64 * j
    if lam >= 50.0:
        u = uniforms(key, streams.STREAM_POISSON, np.array([base]))[0]
        z, s = float(special.ndtri(max(u, 2.0**-54))), math.sqrt(lam)
        return max(0.0, math.floor(lam + s * z + (z * z - 1) / 6 + (z - z**3) / (72 * s) + 0.5))
    if lam < 10.0:
        u = uniforms(key, streams.STREAM_POISSON, np.array([base]))[0]
        pk = math.exp(-lam)
        cdf, k = pk, 0
        while u > cdf and k < 200:
            k += 1
            pk *= lam / k
            cdf += pk
        return float(k)
    us_ = uniforms(key, streams.STREAM_POISSON, base + np.arange(64))
    b = 0.931 + 2.53 * math.sqrt(lam)
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    for att in range(32):
        uu, v = us_[2 * att] - 0.5, us_[2 * att + 1]
        us = 0.5 - abs(uu)
        k = math.floor((2.0 * a / us + b) * uu + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        lhs = math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
        if lhs <= -lam + k * math.log(lam) - math.lgamma(k + 1.0):
            return k
    return max(0.0, math.floor(lam + 0.5))


def holohedry(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """G* and every integer matrix with entries in {−1, 0, 1} that keeps G* (brute force)."""
    a, b, c = cell[:3]
    ca, cb, cg = np.cos(np.deg2rad(cell[3:]))
    g = np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca],
                  [a * c * cb, b * c * ca, c * c]])
    gs = np.linalg.inv(g)
    mats = np.array(list(itertools.product((-1, 0, 1), repeat=9))).reshape(-1, 3, 3)
    mats = mats[np.abs(np.round(np.linalg.det(mats))) == 1]
    moved = np.einsum("mji,jk,mkl->mil", mats, gs, mats)
    keep = np.abs(moved - gs).max(axis=(1, 2)) <= 1e-4 * np.abs(gs).max()
    return gs, mats[keep]


def march_dollase(hkl: np.ndarray, cell: np.ndarray, direction: np.ndarray, r: float):
    """⟨(r² cos²α + sin²α / r)^(−3/2)⟩ over the holohedry orbit of each hkl row."""
    gs, mats = holohedry(cell)
    out = np.empty(len(hkl))
    for i, h in enumerate(hkl):
        eq = np.einsum("mij,j->mi", mats, h)
        c2 = (eq @ gs @ direction) ** 2 / ((h @ gs @ h) * (direction @ gs @ direction))
        out[i] = np.mean((r * r * c2 + (1 - c2) / r) ** -1.5)
    return out


def reference_pattern(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    config: SimulationConfig,
    p: dict[str, float],
    key: int,
    *,
    hkl: np.ndarray | None = None,
    cell: np.ndarray | None = None,
) -> np.ndarray:
    """One pattern (12000,) float64 from the given parameters and pattern key."""
    on = config.enabled
    tt = np.asarray(two_theta, dtype=np.float64)
    n = tt.size
    stretch = np.ones(n)  # d / d' of each line under the lattice strain
    if on("lattice_strain") and hkl is not None:
        e = p["lattice_strain.amplitude"] * (
            2.0 * uniforms(key, streams.STREAM_LATTICE, np.arange(10)) - 1.0)
        gs, mats = holohedry(np.asarray(cell, float))
        d = np.sqrt(np.diag(gs))
        t = np.eye(3) * (1.0 + e[0]) + e[1:].reshape(3, 3) * d[None, :] / d[:, None]
        strained = np.mean(mats.transpose(0, 2, 1) @ (t.T @ gs @ t) @ mats, axis=0)
        h = np.asarray(hkl, float)
        stretch = np.sqrt(np.einsum("ni,ij,nj->n", h, strained, h)
                          / np.einsum("ni,ij,nj->n", h, gs, h))
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
    if on("preferred_orientation") and hkl is not None:
        dirs = np.array(config.op("preferred_orientation").settings["directions"], float)
        u = uniforms(key, streams.STREAM_ORIENTATION, np.array([0]))[0]
        d = dirs[min(int(u * len(dirs)), len(dirs) - 1)]
        y = y * march_dollase(np.asarray(hkl, float), np.asarray(cell, float), d,
                              p["preferred_orientation.r"])
    waves: list[tuple[float, np.ndarray]] = []  # (wavelength, intensity factor)
    if on("doublet"):
        lam1, lam2 = KALPHA_DOUBLETS[config.op("doublet").settings["anode"]]
        r = p["doublet.ratio"]
        waves += [(lam1, y / (1.0 + r)), (lam2, y * r / (1.0 + r))]
    else:
        waves += [(config.wavelength, y)]
    if on("tube_lines"):  # kept when ≥ tail_cutoff × the strongest input peak
        floor = config.op("profile").settings["tail_cutoff"] * np.max(intensity, initial=0.0)
        for lam, ratio in ((KBETA[config.op("tube_lines").settings["anode"]], "kbeta"),
                           (TUNGSTEN_LALPHA1, "tungsten")):
            w = y * p[f"tube_lines.{ratio}"]
            waves.append((lam, np.where(w >= floor, w, np.nan)))  # NaN: dropped
    xs, ws = [], []
    for lam, w in waves:
        with np.errstate(invalid="ignore"):
            x0 = convert_two_theta(tt, from_wavelength=config.wavelength, to_wavelength=lam)
            sin_t = np.sin(np.deg2rad(x0 / 2)) * stretch
            x0 = np.where(sin_t < 1.0, 2.0 * np.rad2deg(np.arcsin(sin_t)), np.nan)
        x = x0 + shift
        if on("displacement"):  # Δ2θ = −2s·cosθ/R (radians)
            r_mm = config.op("displacement").settings["radius"]
            x = x - np.rad2deg(2.0 * p["displacement.shift"] * np.cos(np.deg2rad(x0 / 2)) / r_mm)
        xs.append(x)
        ws.append(w)
    x_all, w_all = np.concatenate(xs), np.concatenate(ws)
    keep = np.isfinite(x_all) & np.isfinite(w_all) & (x_all >= 0.0) & (x_all < N_BINS * BIN_WIDTH)
    if on("peak_crop"):
        keep &= (x_all >= p["peak_crop.low"]) & (x_all <= p["peak_crop.high"])
    x_all, w_all = x_all[keep], w_all[keep]
    sticks = np.zeros(N_BINS)
    counts = np.zeros(N_BINS)
    j = bin_index(x_all)
    np.add.at(sticks, j[j >= 0], w_all[j >= 0])
    np.add.at(counts, j[j >= 0], 1.0)
    if config.op("binning").settings["mode"] == "mean":
        sticks = np.where(counts > 1, sticks / np.maximum(counts, 1), sticks)
    exact = on("profile") and config.op("profile").settings["positions"] == "exact"
    if on("impurity"):
        lo, hi = config.op("impurity").settings["two_theta_range"]
        base = sticks.max()
        if base > 0:
            for m in range(int(p["impurity.count"])):
                u = uniforms(key, streams.STREAM_IMPURITY, np.array([2 * m, 2 * m + 1]))
                xi = lo + (hi - lo) * u[0]
                a = draw(config, "impurity.intensity", u[1]) * base
                if exact:
                    x_all, w_all = np.append(x_all, xi), np.append(w_all, a)
                else:
                    sticks[min(int(math.floor(xi / BIN_WIDTH)), N_BINS - 1)] += a
    if exact:
        out = profile_lines(x_all, w_all, p, config)
    else:
        out = profile(sticks, p, config) if on("profile") else sticks
    if on("transparency"):  # discrete exponential tail to low angle, mean δ = sin2θ/(2μR)
        r_cm = config.op("transparency").settings["radius"] / 10.0
        centres = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
        delta = np.rad2deg(np.sin(np.deg2rad(centres)) / (2.0 * p["transparency.mu"] * r_cm))
        a = delta / (BIN_WIDTH + delta)
        tail = 0.0
        for j in range(N_BINS - 1, -1, -1):
            tail = (1.0 - a[j]) * out[j] + a[j] * tail
            out[j] = tail
    if out.max() > 0:
        out = out / out.max()
    t = (np.arange(N_BINS) + 0.5) / N_BINS
    if on("background"):
        c = [p[f"background.c{i}"] for i in range(4)]
        out = out + sum(c[i] * special.comb(3, i) * t**i * (1 - t) ** (3 - i) for i in range(4))
    x = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
    if on("amorphous"):
        for m in range(int(p["amorphous.count"])):
            u = uniforms(key, streams.STREAM_AMORPHOUS, 4 * m + np.arange(4))
            h, c, w, e = (draw(config, f"amorphous.{n}", u[i])
                          for i, n in enumerate(("height", "center", "fwhm", "eta")))
            d2 = 4.0 * (x - c) ** 2 / w**2
            out = out + h * ((1 - e) * np.exp(-math.log(2.0) * d2) + e / (1 + d2))
    if on("air_scatter"):
        out = out + p["air_scatter.amplitude"] * np.exp(-x / p["air_scatter.decay"])
    if on("poisson_noise"):
        n_c = p["poisson_noise.counts"]
        lam = out * n_c
        out = np.array([poisson(v, key, j) / n_c if v > 0 else 0.0 for j, v in enumerate(lam)])
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
    if on("scan_range"):
        out = np.where((x < p["scan_range.start"]) | (x > p["scan_range.end"]), 0.0, out)
    if on("renormalize") and out.max() > 0:
        out = out / out.max()
    if on("final_crop"):
        x = (np.arange(N_BINS) + 0.5) * BIN_WIDTH
        out = np.where((x < p["final_crop.low"]) | (x > p["final_crop.high"]), 0.0, out)
    return out
