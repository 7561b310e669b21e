"""numba kernels of the profile simulator: peak list → 12,000-bin pattern, per pattern.

:func:`render_batch` applies every op of ``xrdsim.simulation.ops.OPS`` to each pattern of a
batch, in parallel over patterns (``prange``). All randomness inside the ops comes from
the counter-based streams of :mod:`xrdsim.simulation.rng` keyed on the pattern key, and all
per-pattern parameters come in as a (B, P) float64 matrix whose columns are
:data:`PARAM_SLOTS` (drawn elsewhere, by :mod:`xrdsim.simulation.sampling`): draw in one place,
apply deterministically here. Peak shapes are in :mod:`xrdsim.simulation.profile_kernel`,
backgrounds and noise in :mod:`xrdsim.simulation.noise_kernel`.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import noise_kernel as nk_
from xrdsim.simulation.profile_kernel import (
    TABLE_DU,
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
    STREAM_INTENSITY,
    STREAM_LATTICE,
    STREAM_ORIENTATION,
    STREAM_POISSON,
    STREAM_POSITION,
    stream_key,
    transform,
    uniform,
)

#: Column order of the parameter matrix (must equal ``xrdsim.simulation.ops.param_slots()``).
PARAM_SLOTS = (
    "mixture.phases", "mixture.fraction", "zero_shift.delta", "displacement.shift",
    "position_noise.amplitude", "peak_crop.low", "peak_crop.high", "intensity_noise.amplitude",
    "preferred_orientation.r", "doublet.ratio", "tube_lines.kbeta", "tube_lines.tungsten",
    "impurity.count",
    "profile.U", "profile.V", "profile.W", "profile.P", "profile.eta", "profile.rho",
    "sample_broadening.size", "sample_broadening.strain", "transparency.mu",
    "background.c0", "background.c1", "background.c2", "background.c3", "amorphous.count",
    "air_scatter.amplitude", "air_scatter.decay", "poisson_noise.counts",
    "counting_noise.counts", "background_noise.amplitude", "background_noise.dilation",
    "scan_range.start", "scan_range.end", "final_crop.low", "final_crop.high",
    "lattice_strain.amplitude",
)  # fmt: skip
#: Per-item parameters drawn inside the kernel (``xrdsim.simulation.ops.per_item_slots()``).
ITEM_SLOTS = ("impurity.intensity", "amorphous.height", "amorphous.center", "amorphous.fwhm",
              "amorphous.eta")  # fmt: skip
#: Op order of the ``ops_on`` flags (must equal ``[op.name for op in config.OPS]``).
OP_ORDER = (
    "mixture", "lattice_strain", "zero_shift", "displacement", "position_noise", "peak_crop",
    "intensity_noise", "preferred_orientation", "doublet", "tube_lines", "binning", "impurity",
    "profile", "sample_broadening", "transparency", "background", "amorphous", "air_scatter",
    "poisson_noise", "counting_noise", "background_noise", "scan_range", "renormalize",
    "final_crop",
)  # fmt: skip
(MIXTURE, STRAIN, ZERO, DISPL, POSN, PCROP, INTN, PO, DOUBLET, TUBE, BINNING, IMPURITY,
 PROFILE, BROADEN, TRANSP, BACKGROUND, AMORPH, AIR, POISSON, COUNTING, BGNOISE, SCAN, RENORM,
 FCROP) = range(len(OP_ORDER))  # fmt: skip

# parameter columns (numba freezes module globals as constants)
P_DELTA, P_DISPL, P_POSN, P_PCLO, P_PCHI, P_INTN, P_PO, P_RATIO, P_KBETA, P_W, P_MU, P_IMPN = (
    PARAM_SLOTS.index(n) for n in (
        "zero_shift.delta", "displacement.shift", "position_noise.amplitude", "peak_crop.low",
        "peak_crop.high", "intensity_noise.amplitude", "preferred_orientation.r",
        "doublet.ratio", "tube_lines.kbeta", "tube_lines.tungsten", "transparency.mu",
        "impurity.count"))  # fmt: skip
P_U = PARAM_SLOTS.index("profile.U")
P_ETA, P_RHO, P_SIZE, P_STRAIN = (P_U + 4, P_U + 5, P_U + 6, P_U + 7)
P_C0 = PARAM_SLOTS.index("background.c0")
P_HUMPS = PARAM_SLOTS.index("amorphous.count")
P_AIR_A, P_AIR_T = P_HUMPS + 1, P_HUMPS + 2
P_POISSON = PARAM_SLOTS.index("poisson_noise.counts")
P_COUNTS = PARAM_SLOTS.index("counting_noise.counts")
P_BGN_A, P_BGN_D = P_COUNTS + 1, P_COUNTS + 2
P_SCAN_LO, P_SCAN_HI, P_FC_LO, P_FC_HI = (P_BGN_D + 1, P_BGN_D + 2, P_BGN_D + 3, P_BGN_D + 4)
P_LSTRAIN = PARAM_SLOTS.index("lattice_strain.amplitude")
#: Random numbers of one lattice strain: e₀ and the 9 entries of E (:func:`strained_metric`).
N_STRAIN_DRAWS = 10
#: Entries of the ``consts`` vector of :func:`render_batch`.
C_CUTOFF, C_WAVELENGTH, C_MEAN, C_EXACT, C_RADIUS_D, C_RADIUS_T, C_IMP_LO, C_IMP_HI = range(8)
N_CONSTS = 8

#: Lines per peak (Kα1, Kα2, Kβ1, W Lα1).
LINES_PER_PEAK = 4
_RAD2DEG = 180.0 / math.pi
_DEG2RAD = math.pi / 180.0
_TOP = N_BINS * BIN_WIDTH


@nb.njit(cache=True, inline="always")
def _push(x, w, prm, on, lx, ly, nl):
    """Append line (x, w) unless it falls outside the grid or the peak-crop window."""
    if not (x >= 0.0 and x < _TOP):
        return nl
    if on[PCROP] and (x < prm[P_PCLO] or x > prm[P_PCHI]):
        return nl
    lx[nl] = x
    ly[nl] = w
    return nl + 1


@nb.njit(cache=True, inline="always")
def _quad(h, g):
    """hᵀ·G·h for a (3,) vector (Miller index or direction) and a (9,) row-major metric."""
    x, y, z = float(h[0]), float(h[1]), float(h[2])
    return (x * (g[0] * x + g[1] * y + g[2] * z) + y * (g[3] * x + g[4] * y + g[5] * z)
            + z * (g[6] * x + g[7] * y + g[8] * z))  # fmt: skip


@nb.njit(cache=True)
def march_dollase(hkl, gs, mask, ops, p, r):
    """W = ⟨(r²cos²α + sin²α/r)^(−3/2)⟩ over the equivalents M·hkl (mask) of one line.

    α is the angle between the reciprocal vectors of M·hkl and the preferred direction p:
    cos²α = (h'·G*·p)² / ((h'·G*·h')(p·G*·p)); G* is ``gs`` (9,) row-major.
    """
    gp0 = gs[0] * p[0] + gs[1] * p[1] + gs[2] * p[2]
    gp1 = gs[3] * p[0] + gs[4] * p[1] + gs[5] * p[2]
    gp2 = gs[6] * p[0] + gs[7] * p[1] + gs[8] * p[2]
    pp = p[0] * gp0 + p[1] * gp1 + p[2] * gp2  # _quad(p, gs), from the G*·p just made
    h, k, l = float(hkl[0]), float(hkl[1]), float(hkl[2])
    hh = _quad(hkl, gs)
    total = 0.0
    n = 0
    for m in range(ops.shape[0]):
        if not mask[m]:
            continue
        a = ops[m, 0] * h + ops[m, 1] * k + ops[m, 2] * l
        b = ops[m, 3] * h + ops[m, 4] * k + ops[m, 5] * l
        c = ops[m, 6] * h + ops[m, 7] * k + ops[m, 8] * l
        hp = a * gp0 + b * gp1 + c * gp2
        c2 = min(hp * hp / (hh * pp), 1.0)
        x = r * r * c2 + (1.0 - c2) / r
        total += 1.0 / (x * math.sqrt(x))
        n += 1
    return total / n


@nb.njit(cache=True)
def strain_draws(key, amplitude, e):
    """e[k] = ε(2u_k − 1), k < :data:`N_STRAIN_DRAWS`: e₀, then E row-major."""
    ks = stream_key(key, STREAM_LATTICE)
    for k in range(N_STRAIN_DRAWS):
        e[k] = amplitude * (2.0 * uniform(ks, k) - 1.0)


@nb.njit(cache=True)
def strained_metric(gs, mask, ops, e, out):
    """Reciprocal metric G*′ (9,) of a crystal under the strain draws ``e``.

    S = e₀·I + D⁻¹·E·D with D = diag(√G*₁₁, √G*₂₂, √G*₃₃) (E acts on the reciprocal
    components scaled to length), G*″ = (I + S)ᵀ·G*·(I + S), and G*′ the mean of
    Mᵀ·G*″·M over the lattice's holohedry (``mask`` of ``ops``): a metric the holohedry
    keeps, so symmetry-equivalent lines stay equal and the crystal system is unchanged
    (cubic: isotropic; tetragonal / hexagonal: a and c; … triclinic: all six).
    """
    d = np.empty(3)
    for i in range(3):
        d[i] = math.sqrt(gs[4 * i])
    t = np.empty(9)  # I + S
    for i in range(3):
        for j in range(3):
            t[3 * i + j] = e[1 + 3 * i + j] * d[j] / d[i] + ((1.0 + e[0]) if i == j else 0.0)
    g2 = np.empty(9)  # G*'' = Tᵀ G* T
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(3):
                for m in range(3):
                    acc += t[3 * k + i] * gs[3 * k + m] * t[3 * m + j]
            g2[3 * i + j] = acc
    for q in range(9):
        out[q] = 0.0
    n = 0
    for o in range(ops.shape[0]):
        if not mask[o]:
            continue
        for i in range(3):
            for j in range(3):
                acc = 0.0
                for k in range(3):
                    for m in range(3):
                        acc += ops[o, 3 * k + i] * g2[3 * k + m] * ops[o, 3 * m + j]
                out[3 * i + j] += acc
        n += 1
    for q in range(9):
        out[q] /= n


@nb.njit(cache=True)
def make_lines(tt, inten, lo, hi, prm, on, key, consts, hkl, phase, gs, mask, ops, dirs, lx, ly):
    """Instrument lines of one pattern into (lx, ly); returns their number.

    Per peak i: lattice strain (each wavelength's sin θ_i times d_i/d′_i, d′ from the
    line's hkl in :func:`strained_metric` of its crystal), zero shift, position noise
    δ_i ~ U(−a, a), intensity noise
    y_i(1 + ℓ(2u − 1)), preferred orientation (:func:`march_dollase`, direction drawn
    from ``dirs``); then one line per wavelength (``tt`` rows: Kα1 or single line,
    Kα2, Kβ1, W Lα1), each moved by the displacement Δ2θ = −2s·cosθ/R. A Kβ / W line
    is kept when its intensity reaches ``tail_cutoff`` × the strongest input peak (the
    profile drops features below that fraction of each peak as well).
    """
    kpos = stream_key(key, STREAM_POSITION)
    kint = stream_key(key, STREAM_INTENSITY)
    nl = 0
    floor = 0.0
    for i in range(hi - lo):
        floor = max(floor, inten[lo + i])
    floor *= consts[C_CUTOFF]
    direction = dirs[min(int(uniform(stream_key(key, STREAM_ORIENTATION), 0) * dirs.shape[0]),
                         dirs.shape[0] - 1)]  # fmt: skip
    ratio = prm[P_RATIO]
    draws = np.empty(N_STRAIN_DRAWS)
    strained = np.empty(9)
    strained_of = -1  # crystal whose strained metric ``strained`` holds
    if on[STRAIN]:
        strain_draws(key, prm[P_LSTRAIN], draws)
    for i in range(hi - lo):
        scale = 1.0  # d / d′ of the line
        if on[STRAIN]:
            ph = phase[lo + i]
            if ph != strained_of:
                strained_metric(gs[ph], mask[ph], ops, draws, strained)
                strained_of = ph
            scale = math.sqrt(_quad(hkl[lo + i], strained) / _quad(hkl[lo + i], gs[ph]))
        shift = 0.0
        if on[ZERO]:
            shift += prm[P_DELTA]
        if on[POSN]:  # δ_i = a·(2u − 1) ~ U(−a, a)
            shift += prm[P_POSN] * (2.0 * uniform(kpos, i) - 1.0)
        y = inten[lo + i]
        if on[INTN]:  # y ← y·(1 + ℓ(2u − 1))
            y = y * (1.0 + prm[P_INTN] * (2.0 * uniform(kint, i) - 1.0))
        if on[PO]:  # March–Dollase, averaged over the line's equivalent reflections
            ph = phase[lo + i]
            y = y * march_dollase(hkl[lo + i], gs[ph], mask[ph], ops, direction, prm[P_PO])
        for line in range(4):
            if line == 0:  # Kα1 : Kα2 = 1 : r, total intensity kept
                w = y / (1.0 + ratio) if on[DOUBLET] else y
            elif line == 1:
                if not on[DOUBLET]:
                    continue
                w = y * ratio / (1.0 + ratio)
            elif not on[TUBE]:
                break
            else:
                w = y * (prm[P_KBETA] if line == 2 else prm[P_W])
                if w < floor:
                    continue
            x0 = tt[line, lo + i]
            if math.isnan(x0):  # cannot diffract at this wavelength
                continue
            if on[STRAIN]:  # sin θ′ = sin θ · d / d′
                s_ = math.sin(0.5 * x0 * _DEG2RAD) * scale
                if s_ >= 1.0:  # no longer diffracts
                    continue
                x0 = 2.0 * _RAD2DEG * math.asin(s_)
            x = x0 + shift
            if on[DISPL]:  # Δ2θ = −2s·cosθ/R
                x -= _RAD2DEG * 2.0 * prm[P_DISPL] * math.cos(0.5 * x0 * _DEG2RAD) / consts[
                    C_RADIUS_D]
            nl = _push(x, w, prm, on, lx, ly, nl)
    return nl


@nb.njit(cache=True)
def add_transparency(y, mu, radius_mm):
    """Exponential tail toward low angle: y'_j = (1 − a_j)·y_j + a_j·y'_{j+1}, from high
    to low angle, a_j = δ_j/(h + δ_j), δ_j = sin 2θ_j/(2μR)·180/π (μ in 1/cm, R in cm).

    The discrete kernel (1 − a)·a^m over m bins below each bin has mean a/(1 − a)·h = δ:
    the centroid moves by −δ, the penetration depth of the beam seen at 2θ.
    """
    scale = _RAD2DEG / (2.0 * mu * 0.1 * radius_mm)
    prev = 0.0
    for j in range(N_BINS - 1, -1, -1):
        delta = scale * math.sin((j + 0.5) * BIN_WIDTH * _DEG2RAD)
        a = delta / (BIN_WIDTH + delta)
        prev = (1.0 - a) * y[j] + a * prev
        y[j] = prev


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


@nb.njit(cache=True, inline="always")
def _item(slot, skey, counter, item_kind, item_lo, item_hi, item_off, item_n, vals):
    """Per-item draw of ITEM_SLOTS[slot] from uniform(skey, counter)."""
    return transform(item_kind[slot], item_lo[slot], item_hi[slot], vals, item_off[slot],
                     item_n[slot], uniform(skey, counter))  # fmt: skip


@nb.njit(cache=True)
def render_one(tt, inten, lo, hi, prm, on, key, consts, hkl, phase, gs, mask, ops, dirs,
               item_kind, item_lo, item_hi, item_off, item_n, vals, tables, trig, normal_q,
               out):  # fmt: skip
    """All ops for one pattern; writes float32 into ``out`` (N_BINS,)."""
    n_imp = int(prm[P_IMPN]) if on[IMPURITY] else 0
    lx = np.empty(LINES_PER_PEAK * (hi - lo) + n_imp, dtype=np.float64)
    ly = np.empty_like(lx)
    nl = make_lines(tt, inten, lo, hi, prm, on, key, consts, hkl, phase, gs, mask, ops, dirs, lx,
                    ly)  # fmt: skip
    exact = on[PROFILE] and consts[C_EXACT] > 0.0
    sticks = np.zeros(N_BINS, dtype=np.float64)
    counts = np.zeros(N_BINS, dtype=np.int32)
    for n in range(nl):
        j = int(math.floor(lx[n] / BIN_WIDTH))
        if j >= N_BINS:
            continue
        sticks[j] += ly[n]
        counts[j] += 1
    if consts[C_MEAN] > 0.0:
        for j in range(N_BINS):
            if counts[j] > 1:
                sticks[j] /= counts[j]
    if n_imp > 0:  # M peaks at U(2θ range), intensity drawn per peak, times max(binned)
        base = sticks.max()
        kimp = stream_key(key, STREAM_IMPURITY)
        if base > 0.0:
            for mm in range(n_imp):
                x = consts[C_IMP_LO] + (consts[C_IMP_HI] - consts[C_IMP_LO]) * uniform(kimp, 2 * mm)
                a = _item(0, kimp, 2 * mm + 1, item_kind, item_lo, item_hi, item_off, item_n, vals)
                if exact:
                    lx[nl] = x
                    ly[nl] = a * base
                    nl += 1
                else:
                    sticks[min(int(math.floor(x / BIN_WIDTH)), N_BINS - 1)] += a * base
    if on[PROFILE]:
        y = np.zeros(N_BINS, dtype=np.float64)
        eta = prm[P_ETA]
        k = half_window(eta, consts[C_CUTOFF])
        nk = int(math.ceil(k / TABLE_DU)) + 1
        coef = cubic_table(tables, eta, prm[P_RHO], nk)
        uvwp = prm[P_U : P_U + 4]
        size = prm[P_SIZE] if on[BROADEN] else 0.0
        if exact:
            profile_exact(lx, ly, nl, uvwp, size, prm[P_STRAIN], coef, nk, k,
                          consts[C_WAVELENGTH], y)  # fmt: skip
        else:
            profile_binned(sticks, uvwp, size, prm[P_STRAIN], coef, nk, k, trig,
                           consts[C_WAVELENGTH], y)  # fmt: skip
    else:
        y = sticks
    if on[TRANSP]:
        add_transparency(y, prm[P_MU], consts[C_RADIUS_T])
    _scale_to_max(y)
    if on[BACKGROUND]:  # cubic Bernstein: Σ c_k C(3,k) t^k (1−t)^(3−k), t = 2θ/120°
        for j in range(N_BINS):
            t = (j + 0.5) / N_BINS
            s = 1.0 - t
            y[j] += (prm[P_C0] * s * s * s + 3.0 * prm[P_C0 + 1] * t * s * s
                     + 3.0 * prm[P_C0 + 2] * t * t * s + prm[P_C0 + 3] * t * t * t)  # fmt: skip
    if on[AMORPH]:  # humps: height, centre, FWHM, η drawn per hump (counter 4m + slot)
        ka = stream_key(key, STREAM_AMORPHOUS)
        for mm in range(int(prm[P_HUMPS])):
            h = _item(1, ka, 4 * mm, item_kind, item_lo, item_hi, item_off, item_n, vals)
            c = _item(2, ka, 4 * mm + 1, item_kind, item_lo, item_hi, item_off, item_n, vals)
            w = _item(3, ka, 4 * mm + 2, item_kind, item_lo, item_hi, item_off, item_n, vals)
            e = _item(4, ka, 4 * mm + 3, item_kind, item_lo, item_hi, item_off, item_n, vals)
            nk_.add_hump(y, h, c, w, e)
    if on[AIR]:
        nk_.add_air_scatter(y, prm[P_AIR_A], prm[P_AIR_T])
    if on[POISSON]:
        nk_.add_poisson(y, prm[P_POISSON], stream_key(key, STREAM_POISSON))
    if on[COUNTING]:
        nk_.add_counting(y, prm[P_COUNTS], stream_key(key, STREAM_COUNTING), normal_q)
    if on[BGNOISE]:
        nk_.add_background_noise(y, prm[P_BGN_A], prm[P_BGN_D], stream_key(key, STREAM_BACKGROUND))
    if on[SCAN]:  # nothing measured outside the scan
        for j in range(N_BINS):
            x = (j + 0.5) * BIN_WIDTH
            if x < prm[P_SCAN_LO] or x > prm[P_SCAN_HI]:
                y[j] = 0.0
    if on[RENORM]:
        _scale_to_max(y)
    for j in range(N_BINS):
        x = (j + 0.5) * BIN_WIDTH
        if on[FCROP] and (x < prm[P_FC_LO] or x > prm[P_FC_HI]):
            out[j] = 0.0
        else:
            out[j] = y[j]


# nogil: the dataset builder's shard writer thread runs while a batch renders
@nb.njit(cache=True, parallel=True, nogil=True)
def render_batch(tt, inten, offsets, params, keys, on, consts, hkl, phase, gs, mask, ops, dirs,
                 item_kind, item_lo, item_hi, item_off, item_n, vals, tables, trig, normal_q,
                 out):  # fmt: skip
    """Render B patterns into ``out`` (B, N_BINS) float32, in parallel over patterns.

    Args:
        tt: (4, n) float64 positions, degrees 2θ, of the concatenated peaks for Kα1 (or
            the single line), Kα2, Kβ1 and W Lα1 (NaN where a line cannot diffract).
        inten: (n,) float64 intensities; offsets: (B+1,) int64 ragged bounds.
        params: (B, P) float64 in :data:`PARAM_SLOTS` order; keys: (B,) uint64.
        on: bool flags in :data:`OP_ORDER`; consts: (N_CONSTS,) float64 (C_* entries).
        hkl: (n, 3) int64 line indices; phase: (n,) int64 row of each line's crystal in
            gs: (C, 9) reciprocal metrics and mask: (C, M) bool holohedries among ``ops``
            (M, 9) float64; dirs: (D, 3) preferred directions (all only read when
            preferred orientation is on).
        item_*: distribution codes of :data:`ITEM_SLOTS` (see ``sampling.encode_config``);
            vals: choice values and band edges of both parameter sets.
        tables: (8, TABLE_NODES) shape tables; trig: (2, N_BINS) tan θ_j and cos θ_j of
            the bin centres; normal_q: normal quantile nodes.
    """
    for b in nb.prange(keys.shape[0]):
        render_one(tt, inten, offsets[b], offsets[b + 1], params[b], on, keys[b], consts, hkl,
                   phase, gs, mask, ops, dirs, item_kind, item_lo, item_hi, item_off, item_n,
                   vals, tables, trig, normal_q, out[b])  # fmt: skip
