"""numba kernels of the kinematic X-ray powder line list (``xrdsim.peaks.lines`` drives them).

Arrays in / arrays out, float64 / int64 / int32 only, no Python objects:

- :func:`bragg_reflections`: the reciprocal-lattice points ``G = h·a* + k·b* + l·c*`` of one
  Friedel half-space (``h > 0``, or ``h = 0, k > 0``, or ``h = k = 0, l > 0``) with
  ``g_min ≤ |G| ≤ g_max``, and the unscaled powder intensity of each pair ``±G``::

      I(±G) = (|F(G)|² + |F(−G)|²) · LP(θ)
      F(G) = Σ_j  o_j · (f0_j(s) + f′_j + i·f″_j) · T_j(h) · exp(2πi (h x_j + k y_j + l z_j))
      f0(s) = c + Σ_{i=1..5} a_i · exp(−b_i s²)                  (Waasmaier–Kirfel form)
      f0(s) = c − 41.78214 · s² · Σ_{i=1..5} a_i · exp(−b_i s²)  (pymatgen's Mott–Bethe form)
      T_j(h) = exp(−B_j s²) · exp(−hᵀ β_j h),    s = |G|/2 = sinθ/λ
      LP(θ) = (1 + cos²2θ) / (sin²θ · cosθ),      sinθ = λ|G|/2

  With the real weights ``w_j = o_j·T_j`` (even in h), ``F_r = Σ w_j (f0_j + f′_j) e^{iφ_j}``
  and ``F_i = Σ w_j f″_j e^{iφ_j}`` give ``F(G) = F_r + i·F_i`` and
  ``F(−G) = F_r* + i·F_i*``, so that exactly ``|F(G)|² + |F(−G)|² = 2·(|F_r|² + |F_i|²)``:
  Friedel's law is not assumed (with f″ it fails for non-centrosymmetric structures); both
  halves are summed. Without f″ this is ``2·|F|²``, as in pymatgen.
- :func:`powder_lines`: the reflections merged into lines
  (:func:`xrdsim.peaks.merge_kernel.merge_lines`), scaled to 100 with the intensity floor,
  in one call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xrdsim.peaks.form_factors import FORM_FACTOR_PREFACTOR, N_GAUSSIANS
from xrdsim.peaks.merge_kernel import merge_lines


@njit(cache=True)
def _reciprocal_metric(lattice: np.ndarray) -> np.ndarray:
    """Reciprocal metric ``G* = (A·Aᵀ)⁻¹`` (Å⁻², no 2π) of the direct lattice rows A (Å)."""
    return np.linalg.inv(lattice @ lattice.T)


@njit(cache=True)
def _index_bound(lattice: np.ndarray, axis: int, g_max: float) -> int:
    """Largest |index| along ``axis`` of a point with |G| ≤ g_max: ``|h| = |G·a| ≤ g_max·|a|``."""
    length = math.sqrt(lattice[axis, 0] ** 2 + lattice[axis, 1] ** 2 + lattice[axis, 2] ** 2)
    return int(math.floor(g_max * length + 1e-9))


@njit(cache=True)
def _l_range(metric, h, k, g_max2, l_bound):
    """Integer l range where ``|G|² = C + 2·Bc·l + A·l² ≤ g_max²`` for fixed h, k."""
    a = metric[2, 2]
    bc = h * metric[0, 2] + k * metric[1, 2]
    c = h * h * metric[0, 0] + 2.0 * h * k * metric[0, 1] + k * k * metric[1, 1]
    disc = bc * bc - a * (c - g_max2)
    if disc < 0.0:
        return 1, 0, a, bc, c
    root = math.sqrt(disc)
    lo = int(math.floor((-bc - root) / a)) - 1  # ±1: the g² test below is the exact one
    hi = int(math.ceil((-bc + root) / a)) + 1
    if h == 0 and k == 0 and lo < 1:
        lo = 1  # Friedel half-space: (0, 0, l > 0)
    return max(lo, -l_bound), min(hi, l_bound), a, bc, c


@njit(cache=True)
def _phase_tables(coord: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of ``2π·n·coord_j`` for n = −bound … bound, each (2·bound+1, N).

    ``exp(2πi·n·x) = exp(2πi·(n−1)·x) · exp(2πi·x)`` (one sincos per atom; the relative
    error grows as n·1e-16), and ``exp(−2πi·n·x)`` is the conjugate.
    """
    n_atoms = coord.shape[0]
    re = np.empty((2 * bound + 1, n_atoms), dtype=np.float64)
    im = np.empty((2 * bound + 1, n_atoms), dtype=np.float64)
    for j in range(n_atoms):
        phi = 2.0 * math.pi * (coord[j] - math.floor(coord[j]))
        step_re = math.cos(phi)
        step_im = math.sin(phi)
        cur_re = 1.0
        cur_im = 0.0
        for n in range(0, bound + 1):
            re[bound + n, j] = cur_re
            im[bound + n, j] = cur_im
            re[bound - n, j] = cur_re
            im[bound - n, j] = -cur_im
            cur_re, cur_im = (
                cur_re * step_re - cur_im * step_im,
                cur_re * step_im + cur_im * step_re,
            )
    return re, im


@njit(cache=True)
def _aniso_row(beta: np.ndarray, j: int, h: int, k: int) -> tuple[float, float, float]:
    """hᵀβ_j h = A + B·l + C·l² for fixed h, k: (A, B, C)."""
    qa = beta[j, 0] * h * h + beta[j, 1] * k * k + 2.0 * beta[j, 3] * h * k
    qb = 2.0 * (beta[j, 4] * h + beta[j, 5] * k)
    return qa, qb, beta[j, 2]


@njit(cache=True)
def _count_reflections(metric, g_min2, g_max2, hb, kb, lb):
    """Number of points of the Friedel half-space with g_min² ≤ |G|² ≤ g_max² (pass 1)."""
    count = 0
    for h in range(0, hb + 1):
        for k in range(0 if h == 0 else -kb, kb + 1):
            lo, hi, a, bc, c = _l_range(metric, h, k, g_max2, lb)
            for l_ in range(lo, hi + 1):
                g2 = c + 2.0 * bc * l_ + a * l_ * l_  # |G|² = hᵀ G* h
                if g2 <= g_max2 and g2 >= g_min2 and g2 > 0.0:
                    count += 1
    return count


@njit(cache=True)
def _anisotropic_entries(entry_beta):
    """(n,) int64 entries with a non-zero β: they get T_j(h) = exp(−hᵀβ_j h) per reflection."""
    n_aniso = 0
    for j in range(entry_beta.shape[0]):
        for q in range(6):
            if entry_beta[j, q] != 0.0:
                n_aniso += 1
                break
    aniso = np.empty(n_aniso, dtype=np.int64)
    n_aniso = 0
    for j in range(entry_beta.shape[0]):
        for q in range(6):
            if entry_beta[j, q] != 0.0:
                aniso[n_aniso] = j
                n_aniso += 1
                break
    return aniso


@njit(cache=True)
def _gaussian_exponents(kind_b, group_b):
    """Exponents β of every exp(−β s²): the 5 b_i of every kind, then the B of every group."""
    n_kinds = kind_b.shape[0]
    beta = np.empty(N_GAUSSIANS * n_kinds + group_b.shape[0], dtype=np.float64)
    for t in range(n_kinds):
        for i in range(N_GAUSSIANS):
            beta[N_GAUSSIANS * t + i] = kind_b[t, i]
    for grp in range(group_b.shape[0]):
        beta[N_GAUSSIANS * n_kinds + grp] = group_b[grp]
    return beta


@njit(cache=True)
def _recurrence_is_safe(beta, metric, g_max, entry_beta, aniso, index_sum):
    """True when every exponent of the row recurrences stays far from under/overflow:
    β·(g_max + √A)²/4 < 500 and Σ|β_j|·(hb + kb + lb + 1)² < 500 (else exp per point)."""
    beta_max = 0.0
    for q in range(beta.shape[0]):
        beta_max = max(beta_max, abs(beta[q]))
    safe = beta_max * (g_max + math.sqrt(metric[2, 2])) ** 2 / 4.0 < 500.0
    index_span = float(index_sum + 1) ** 2
    for q in range(aniso.shape[0]):
        size = 0.0
        for c in range(6):
            size += abs(entry_beta[aniso[q], c])
        if size * index_span >= 500.0:
            safe = False
    return safe


@njit(cache=True)
def _row_phases(h_re, h_im, k_re, k_im, hi, ki, occupancy, row_re, row_im):
    """o_j · exp(2πi (h x_j + k y_j)), shared by the whole l row (table rows hi, ki)."""
    for j in range(occupancy.shape[0]):
        xr = h_re[hi, j]
        xi = h_im[hi, j]
        yr = k_re[ki, j]
        yi = k_im[ki, j]
        row_re[j] = occupancy[j] * (xr * yr - xi * yi)
        row_im[j] = occupancy[j] * (xr * yi + xi * yr)


@njit(cache=True)
def _start_row(beta, entry_beta, aniso, h, k, l_, s2, a, bc, e_val, e_ratio, a_val, a_ratio):
    """Recurrence state at the first l of a row: E = exp(−β s²), R = exp(−β(2Bc + A(2l+1))/4);
    anisotropic T = exp(−(A + B·l + C·l²)), R = exp(−(B + C(2l+1)))."""
    for q in range(beta.shape[0]):
        e_val[q] = math.exp(-beta[q] * s2)
        e_ratio[q] = math.exp(-0.25 * beta[q] * (2.0 * bc + a * (2 * l_ + 1)))
    for q in range(aniso.shape[0]):
        qa, qb, qc = _aniso_row(entry_beta, aniso[q], h, k)
        a_val[q] = math.exp(-(qa + qb * l_ + qc * l_ * l_))
        a_ratio[q] = math.exp(-(qb + qc * (2 * l_ + 1)))


@njit(cache=True)
def _step_row(e_val, e_ratio, e_step, a_val, a_ratio, a_step):
    """One l step of the recurrences: E ← E·R, R ← R·Q (and the anisotropic T alike)."""
    for q in range(e_val.shape[0]):
        e_val[q] *= e_ratio[q]
        e_ratio[q] *= e_step[q]
    for q in range(a_val.shape[0]):
        a_val[q] *= a_ratio[q]
        a_ratio[q] *= a_step[q]


@njit(cache=True)
def _group_weights(group_kind, kind_c, kind_a, kind_fpp, e_val, s2, mott_bethe, weight,
                   weight_im):  # fmt: skip
    """weight = f0(s)·exp(−B s²) and weight_im = f″·exp(−B s²) of every group, with
    f0(s) = c + Σ a_i exp(−b_i s²) (or c − 41.78214·s²·Σ…)."""
    n_kinds = kind_c.shape[0]
    for grp in range(group_kind.shape[0]):
        t = group_kind[grp]
        acc = 0.0
        for i in range(N_GAUSSIANS):
            acc += kind_a[t, i] * e_val[N_GAUSSIANS * t + i]
        if mott_bethe:
            f = kind_c[t] - FORM_FACTOR_PREFACTOR * s2 * acc
        else:
            f = kind_c[t] + acc
        dw = e_val[N_GAUSSIANS * n_kinds + grp]
        weight[grp] = f * dw
        weight_im[grp] = kind_fpp[t] * dw


@njit(cache=True)
def _structure_factor2(l_re, l_im, lr, row_re, row_im, entry_dw, entry_group, weight, weight_im,
                       has_imag):  # fmt: skip
    """|F(G)|² + |F(−G)|² = 2·(|F_r|² + |F_i|²) with F_r = Σ w_j (f0+f′) e^{iφ_j} and
    F_i = Σ w_j f″ e^{iφ_j} (row ``lr`` of the l phase tables)."""
    f_re = 0.0
    f_im = 0.0
    g_re = 0.0
    g_im = 0.0
    for j in range(row_re.shape[0]):
        grp = entry_group[j]
        zr = l_re[lr, j]
        zi = l_im[lr, j]
        cr = entry_dw[j] * (row_re[j] * zr - row_im[j] * zi)  # w_j cos φ_j
        ci = entry_dw[j] * (row_re[j] * zi + row_im[j] * zr)  # w_j sin φ_j
        w = weight[grp]
        f_re += w * cr
        f_im += w * ci
        if has_imag:
            wi = weight_im[grp]
            g_re += wi * cr
            g_im += wi * ci
    return 2.0 * (f_re * f_re + f_im * f_im + g_re * g_re + g_im * g_im)


@njit(cache=True)
def _lorentz_polarisation(sin2):
    """LP(θ) = (1 + cos²2θ) / (sin²θ · cosθ) from sin²θ."""
    cos_2t = 1.0 - 2.0 * sin2
    return (1.0 + cos_2t * cos_2t) / (sin2 * math.sqrt(max(1.0 - sin2, 0.0)))


@njit(cache=True)
def bragg_reflections(
    lattice: np.ndarray,
    g_min: float,
    g_max: float,
    wavelength: float,
    frac: np.ndarray,
    occupancy: np.ndarray,
    entry_group: np.ndarray,
    group_kind: np.ndarray,
    group_b: np.ndarray,
    entry_beta: np.ndarray,
    kind_c: np.ndarray,
    kind_a: np.ndarray,
    kind_b: np.ndarray,
    kind_fpp: np.ndarray,
    mott_bethe: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All reflections of one Friedel half-space with ``g_min ≤ |G| ≤ g_max`` and their intensity.

    Args:
        lattice: (3, 3) float64, direct lattice vectors as rows, Å.
        g_min, g_max: limits on |G| = 1/d in Å⁻¹ (``2·sin(θ)/λ`` of the 2θ range ends).
        wavelength: λ in Å.
        frac: (N, 3) float64 fractional coordinates of the scattering entries (one per
            species on a site).
        occupancy: (N,) float64 site occupancy of each entry.
        entry_group: (N,) int64 group of each entry; a group shares element and B.
        group_kind: (n_groups,) int64 index into the kind (element) arrays.
        group_b: (n_groups,) float64 isotropic Debye–Waller B in Å².
        entry_beta: (N, 6) float64 anisotropic displacement β11, β22, β33, β12, β13, β23
            (dimensionless, ``hᵀβh = Σ βᵢⱼ hᵢ hⱼ``); a row of zeros for isotropic entries.
        kind_c: (n_kinds,) float64 constant term c plus f′ (pymatgen form: Z).
        kind_a, kind_b: (n_kinds, 5) float64 Gaussian coefficients a_i, b_i (b in Å²).
        kind_fpp: (n_kinds,) float64 f″ (zeros without anomalous dispersion).
        mott_bethe: True for the pymatgen form ``c − 41.78214·s²·Σ…``, False for ``c + Σ…``.

    Returns:
        hkl (M, 3) int32, two_theta (M,) float64 degrees, intensity (M,) float64
        ``(|F(G)|² + |F(−G)|²)·LP``, in enumeration order (h, then k, then l ascending).
    """
    metric = _reciprocal_metric(lattice)
    g_max2 = g_max * g_max
    g_min2 = g_min * g_min
    hb = _index_bound(lattice, 0, g_max)
    kb = _index_bound(lattice, 1, g_max)
    lb = _index_bound(lattice, 2, g_max)
    count = _count_reflections(metric, g_min2, g_max2, hb, kb, lb)  # outputs allocated once
    hkl = np.empty((count, 3), dtype=np.int32)
    two_theta = np.empty(count, dtype=np.float64)
    intensity = np.empty(count, dtype=np.float64)
    if count == 0:
        return hkl, two_theta, intensity

    n_atoms = frac.shape[0]
    n_groups = group_kind.shape[0]
    n_kinds = kind_c.shape[0]
    h_re, h_im = _phase_tables(np.ascontiguousarray(frac[:, 0]), hb)
    k_re, k_im = _phase_tables(np.ascontiguousarray(frac[:, 1]), kb)
    l_re, l_im = _phase_tables(np.ascontiguousarray(frac[:, 2]), lb)
    row_re = np.empty(n_atoms, dtype=np.float64)
    row_im = np.empty(n_atoms, dtype=np.float64)
    weight = np.empty(n_groups, dtype=np.float64)
    weight_im = np.zeros(n_groups, dtype=np.float64)
    has_imag = False
    for t in range(n_kinds):
        has_imag = has_imag or kind_fpp[t] != 0.0
    aniso = _anisotropic_entries(entry_beta)
    n_aniso = aniso.shape[0]
    entry_dw = np.ones(n_atoms, dtype=np.float64)
    beta = _gaussian_exponents(kind_b, group_b)
    n_exp = beta.shape[0]
    # exp(−β s²) along an l row by recurrence: s²(l) is quadratic in l, so
    # E(l+1) = E(l)·R(l), R(l+1) = R(l)·Q with R(l) = exp(−β(2Bc + A(2l+1))/4),
    # Q = exp(−β·A/2): two products instead of an exp; anisotropic T_j(l) likewise
    e_val = np.empty(n_exp, dtype=np.float64)
    e_ratio = np.empty(n_exp, dtype=np.float64)
    e_step = np.empty(n_exp, dtype=np.float64)
    for q in range(n_exp):
        e_step[q] = math.exp(-0.5 * beta[q] * metric[2, 2])
    a_val = np.empty(n_aniso, dtype=np.float64)
    a_ratio = np.empty(n_aniso, dtype=np.float64)
    a_step = np.empty(n_aniso, dtype=np.float64)
    for q in range(n_aniso):
        a_step[q] = math.exp(-2.0 * entry_beta[aniso[q], 2])
    use_recurrence = _recurrence_is_safe(beta, metric, g_max, entry_beta, aniso, hb + kb + lb)
    m = 0
    for h in range(0, hb + 1):
        for k in range(0 if h == 0 else -kb, kb + 1):
            lo, hi, a, bc, c = _l_range(metric, h, k, g_max2, lb)
            row_ready = False
            last_l = lo
            for l_ in range(lo, hi + 1):
                g2 = c + 2.0 * bc * l_ + a * l_ * l_
                if not (g2 <= g_max2 and g2 >= g_min2 and g2 > 0.0):
                    continue
                s2 = 0.25 * g2  # s² = (|G|/2)² = (sinθ/λ)²
                if not row_ready:
                    _row_phases(h_re, h_im, k_re, k_im, h + hb, k + kb, occupancy, row_re, row_im)
                    row_ready = True
                    if use_recurrence:
                        last_l = l_
                        _start_row(beta, entry_beta, aniso, h, k, l_, s2, a, bc, e_val, e_ratio,
                                   a_val, a_ratio)
                if use_recurrence:
                    while last_l < l_:
                        _step_row(e_val, e_ratio, e_step, a_val, a_ratio, a_step)
                        last_l += 1
                else:
                    for q in range(n_exp):
                        e_val[q] = math.exp(-beta[q] * s2)
                _group_weights(group_kind, kind_c, kind_a, kind_fpp, e_val, s2, mott_bethe,
                               weight, weight_im)
                # T_j = exp(−hᵀβ_j h) for the anisotropic entries
                for q in range(n_aniso):
                    j = aniso[q]
                    if use_recurrence:
                        entry_dw[j] = a_val[q]
                    else:
                        qa, qb, qc = _aniso_row(entry_beta, j, h, k)
                        entry_dw[j] = math.exp(-(qa + qb * l_ + qc * l_ * l_))
                f2 = _structure_factor2(l_re, l_im, l_ + lb, row_re, row_im, entry_dw,
                                        entry_group, weight, weight_im, has_imag)
                sin2 = 0.25 * wavelength * wavelength * g2  # sin²θ = (λ|G|/2)²
                hkl[m, 0] = h
                hkl[m, 1] = k
                hkl[m, 2] = l_
                two_theta[m] = math.degrees(2.0 * math.asin(min(math.sqrt(sin2), 1.0)))
                intensity[m] = f2 * _lorentz_polarisation(sin2)
                m += 1
    return hkl, two_theta, intensity


@njit(cache=True)
def powder_lines(
    lattice: np.ndarray,
    g_min: float,
    g_max: float,
    wavelength: float,
    frac: np.ndarray,
    occupancy: np.ndarray,
    entry_group: np.ndarray,
    group_kind: np.ndarray,
    group_b: np.ndarray,
    entry_beta: np.ndarray,
    kind_c: np.ndarray,
    kind_a: np.ndarray,
    kind_b: np.ndarray,
    kind_fpp: np.ndarray,
    mott_bethe: bool,
    merge_tolerance: float,
    intensity_tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bragg_reflections` + :func:`merge_lines` + scaling in one call.

    Arguments as :func:`bragg_reflections`, plus the merge bin width (degrees 2θ) and the
    scaled-intensity floor (lines with ``100·I/I_max ≤ intensity_tolerance`` are dropped).

    Returns:
        two_theta (n,) float64 degrees ascending, intensity (n,) float64 scaled to max 100,
        intensity_raw (n,) float64, d (n,) float64 Å (``λ / (2 sin θ)``), hkl (n, 3) int32,
        multiplicity (n,) int32; all empty when no reflection falls in range.
    """
    hkl, two_theta, intensity = bragg_reflections(
        lattice, g_min, g_max, wavelength, frac, occupancy, entry_group, group_kind, group_b,
        entry_beta, kind_c, kind_a, kind_b, kind_fpp, mott_bethe,
    )  # fmt: skip
    tt, raw, hkl_m, mult = merge_lines(two_theta, intensity, hkl, merge_tolerance)
    n = tt.shape[0]
    top = 0.0
    for i in range(n):
        top = max(top, raw[i])
    keep = 0
    scaled = np.empty(n, dtype=np.float64)
    d = np.empty(n, dtype=np.float64)
    for i in range(n):
        value = raw[i] * (100.0 / top) if top > 0.0 else 0.0
        if value > intensity_tolerance:
            tt[keep] = tt[i]
            raw[keep] = raw[i]
            scaled[keep] = value
            d[keep] = wavelength / (2.0 * math.sin(math.radians(0.5 * tt[i])))  # Bragg
            hkl_m[keep, 0] = hkl_m[i, 0]
            hkl_m[keep, 1] = hkl_m[i, 1]
            hkl_m[keep, 2] = hkl_m[i, 2]
            mult[keep] = mult[i]
            keep += 1
    return (
        tt[:keep].copy(), scaled[:keep].copy(), raw[:keep].copy(), d[:keep].copy(),
        hkl_m[:keep].copy(), mult[:keep].copy(),
    )  # fmt: skip
