"""numba kernel of the render loop: every op, pattern by pattern, in parallel over patterns.

:func:`render_batch` applies every op of ``xrdsim.simulation.ops.OPS`` to each pattern of a
batch (``prange``). All randomness inside the ops comes from the counter-based streams of
:mod:`xrdsim.simulation.rng` keyed on the pattern key, and all per-pattern parameters come
in as a (B, P) float64 matrix whose columns are ``layout.PARAM_SLOTS`` (drawn elsewhere, by
:mod:`xrdsim.simulation.sampling`): draw in one place, apply deterministically here. The
line stage is :mod:`xrdsim.simulation.lines_kernel`, peak shapes and transparency are in
:mod:`xrdsim.simulation.profile_kernel`, backgrounds and noise in
:mod:`xrdsim.simulation.noise_kernel`. The torch twin is ``xrdsim_training.torch_sim.render``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import noise_kernel as nk_
from xrdsim.simulation.layout import const, item, op, param
from xrdsim.simulation.lines_kernel import LINES_PER_PEAK, make_lines
from xrdsim.simulation.profile_kernel import (
    TABLE_DU,
    add_transparency,
    cubic_table,
    half_window,
    profile_binned,
    profile_exact,
)
from xrdsim.simulation.rng import (
    STREAM_AMORPHOUS,
    STREAM_BACKGROUND,
    STREAM_COUNTING,
    STREAM_IMPURITY,
    STREAM_POISSON,
    stream_key,
    transform,
    uniform,
)

# slots read here (numba freezes module globals as constants)
ON_IMPURITY, ON_PROFILE, ON_BROADEN = op("impurity"), op("profile"), op("sample_broadening")
ON_TRANSP, ON_BACKGROUND, ON_AMORPH = op("transparency"), op("background"), op("amorphous")
ON_AIR, ON_POISSON, ON_COUNTING = op("air_scatter"), op("poisson_noise"), op("counting_noise")
ON_BGNOISE, ON_SCAN, ON_RENORM = op("background_noise"), op("scan_range"), op("renormalize")
ON_FCROP = op("final_crop")
P_IMPN = param("impurity.count")
P_U, P_V, P_W, P_P = (param(f"profile.{n}") for n in "UVWP")
P_ETA, P_RHO = param("profile.eta"), param("profile.rho")
P_SIZE, P_STRAIN = param("sample_broadening.size"), param("sample_broadening.strain")
P_MU = param("transparency.mu")
P_C0, P_C1, P_C2, P_C3 = (param(f"background.c{k}") for k in range(4))
P_HUMPS = param("amorphous.count")
P_AIR_A, P_AIR_T = param("air_scatter.amplitude"), param("air_scatter.decay")
P_POISSON, P_COUNTS = param("poisson_noise.counts"), param("counting_noise.counts")
P_BGN_A, P_BGN_D = param("background_noise.amplitude"), param("background_noise.dilation")
P_SCAN_LO, P_SCAN_HI = param("scan_range.start"), param("scan_range.end")
P_FC_LO, P_FC_HI = param("final_crop.low"), param("final_crop.high")
I_IMPURITY = item("impurity.intensity")
I_HEIGHT, I_CENTER = item("amorphous.height"), item("amorphous.center")
I_FWHM, I_ETA = item("amorphous.fwhm"), item("amorphous.eta")
C_CUTOFF, C_WAVELENGTH = const("profile.tail_cutoff"), const("wavelength")
C_MEAN, C_EXACT = const("binning.mean"), const("profile.exact")
C_RADIUS_T = const("transparency.radius")
C_IMP_LO, C_IMP_HI = const("impurity.low"), const("impurity.high")


@nb.njit(cache=True)
def _scale_to_max(y):
    mx = -np.inf
    for j in range(N_BINS):
        if y[j] > mx:
            mx = y[j]
    if mx > 0.0:
        inv = 1.0 / mx
        for j in range(N_BINS):
            y[j] *= inv


@nb.njit(cache=True)
def scan_bins(start, end):
    """Bins [jlo, jhi) whose centre 2θ_j = (j + ½)h lies inside [start, end] (the scan)."""
    jlo = min(max(int(math.floor(start / BIN_WIDTH)) - 1, 0), N_BINS)
    while jlo < N_BINS and (jlo + 0.5) * BIN_WIDTH < start:
        jlo += 1
    jhi = min(max(int(math.floor(end / BIN_WIDTH)) + 2, jlo), N_BINS)
    while jhi > jlo and (jhi - 0.5) * BIN_WIDTH > end:
        jhi -= 1
    return jlo, jhi


@nb.njit(cache=True, inline="always")
def _item(slot, skey, counter, a):
    """Per-item draw of ITEM_SLOTS[slot] from uniform(skey, counter)."""
    return transform(a.item_kind[slot], a.item_lo[slot], a.item_hi[slot], a.vals,
                     a.item_off[slot], a.item_n[slot], uniform(skey, counter))  # fmt: skip


@nb.njit(cache=True)
def render_one(a, b, out):
    """All ops for pattern ``b`` of ``a``; writes float32 into ``out`` (N_BINS,)."""
    lo, hi, prm, key, on, consts = a.offsets[b], a.offsets[b + 1], a.params[b], a.keys[b], a.on, \
        a.consts  # fmt: skip
    n_imp = int(prm[P_IMPN]) if on[ON_IMPURITY] else 0
    lx = np.empty(LINES_PER_PEAK * (hi - lo) + n_imp, dtype=np.float64)
    ly = np.empty_like(lx)
    nl = make_lines(a, lo, hi, prm, key, lx, ly)
    exact = on[ON_PROFILE] and consts[C_EXACT] > 0.0
    # the binned sticks: what the profile spreads (binned positions) or the pattern itself
    # (no profile); exact positions need them only for the impurities' max(binned)
    sticks = np.zeros(N_BINS if not exact or n_imp > 0 else 0, dtype=np.float64)
    mean = consts[C_MEAN] > 0.0
    counts = np.zeros(N_BINS if mean else 0, dtype=np.int32)
    for n in range(nl if sticks.size else 0):
        j = int(math.floor(lx[n] / BIN_WIDTH))
        if j >= N_BINS:
            continue
        sticks[j] += ly[n]
        if mean:
            counts[j] += 1
    if mean:
        for j in range(N_BINS):
            if counts[j] > 1:
                sticks[j] /= counts[j]
    if n_imp > 0:  # M peaks at U(2θ range), intensity drawn per peak, times max(binned)
        base = sticks.max()
        kimp = stream_key(key, STREAM_IMPURITY)
        if base > 0.0:
            for mm in range(n_imp):
                x = consts[C_IMP_LO] + (consts[C_IMP_HI] - consts[C_IMP_LO]) * uniform(kimp, 2 * mm)
                h = _item(I_IMPURITY, kimp, 2 * mm + 1, a)
                if exact:
                    lx[nl] = x
                    ly[nl] = h * base
                    nl += 1
                else:
                    sticks[min(int(math.floor(x / BIN_WIDTH)), N_BINS - 1)] += h * base
    if on[ON_PROFILE]:
        y = np.zeros(N_BINS, dtype=np.float64)
        eta = prm[P_ETA]
        k = half_window(eta, consts[C_CUTOFF])
        nk = int(math.ceil(k / TABLE_DU)) + 1
        coef = cubic_table(a.tables, eta, prm[P_RHO], nk)
        size = prm[P_SIZE] if on[ON_BROADEN] else 0.0
        if exact:
            profile_exact(lx, ly, nl, prm[P_U], prm[P_V], prm[P_W], prm[P_P], size,
                          prm[P_STRAIN], coef, nk, k, consts[C_WAVELENGTH], y)  # fmt: skip
        else:
            profile_binned(sticks, prm[P_U], prm[P_V], prm[P_W], prm[P_P], size, prm[P_STRAIN],
                           coef, nk, k, a.trig, consts[C_WAVELENGTH], y)  # fmt: skip
    else:
        y = sticks
    if on[ON_TRANSP]:
        add_transparency(y, prm[P_MU], consts[C_RADIUS_T])
    _scale_to_max(y)
    # bins the scan keeps: the per-bin ops below act only there (the scan zeroes the rest,
    # and no op reads a neighbour's noise), which renders the same bytes in less time
    jlo, jhi = scan_bins(prm[P_SCAN_LO], prm[P_SCAN_HI]) if on[ON_SCAN] else (0, N_BINS)
    if on[ON_BACKGROUND]:  # cubic Bernstein: Σ c_k C(3,k) t^k (1−t)^(3−k), t = 2θ/120°
        for j in range(jlo, jhi):
            t = (j + 0.5) / N_BINS
            s = 1.0 - t
            y[j] += (prm[P_C0] * s * s * s + 3.0 * prm[P_C1] * t * s * s
                     + 3.0 * prm[P_C2] * t * t * s + prm[P_C3] * t * t * t)  # fmt: skip
    if on[ON_AMORPH]:  # humps: height, centre, FWHM, η drawn per hump (counter 4m + slot)
        ka = stream_key(key, STREAM_AMORPHOUS)
        for mm in range(int(prm[P_HUMPS])):
            h = _item(I_HEIGHT, ka, 4 * mm, a)
            c = _item(I_CENTER, ka, 4 * mm + 1, a)
            w = _item(I_FWHM, ka, 4 * mm + 2, a)
            e = _item(I_ETA, ka, 4 * mm + 3, a)
            nk_.add_hump(y, h, c, w, e)
    if on[ON_AIR]:
        nk_.add_air_scatter(y, prm[P_AIR_A], prm[P_AIR_T])
    if on[ON_POISSON]:
        nk_.add_poisson(y, prm[P_POISSON], stream_key(key, STREAM_POISSON), jlo, jhi)
    if on[ON_COUNTING]:
        nk_.add_counting(y, prm[P_COUNTS], stream_key(key, STREAM_COUNTING), a.normal_q, jlo,
                         jhi)  # fmt: skip
    if on[ON_BGNOISE]:
        nk_.add_background_noise(y, prm[P_BGN_A], prm[P_BGN_D], stream_key(key, STREAM_BACKGROUND),
                                 jlo, jhi)  # fmt: skip
    if on[ON_SCAN]:  # nothing measured outside the scan
        y[:jlo] = 0.0
        y[jhi:] = 0.0
    if on[ON_RENORM]:
        _scale_to_max(y)
    for j in range(N_BINS):
        x = (j + 0.5) * BIN_WIDTH
        if on[ON_FCROP] and (x < prm[P_FC_LO] or x > prm[P_FC_HI]):
            out[j] = 0.0
        else:
            out[j] = y[j]


# nogil: the dataset builder's shard writer thread runs while a batch renders
@nb.njit(cache=True, parallel=True, nogil=True)
def render_batch(a, out):
    """Render the B patterns of ``a`` into ``out`` (B, N_BINS) float32, in parallel.

    ``a`` is a :class:`~xrdsim.simulation.kernel_inputs.KernelArguments` of NumPy arrays
    (the one definition of every kernel input, its names, shapes and dtypes).
    """
    for b in nb.prange(a.keys.shape[0]):
        render_one(a, b, out[b])
