"""numba kernel of the line stage: one pattern's peaks → its instrument lines.

The ops that act on lines, in catalogue order: lattice strain, zero shift, displacement,
position noise, peak crop, intensity noise, preferred orientation, doublet and tube lines
(:mod:`xrdsim.simulation.crystal_kernel` for the two crystal ops). Reads the kernel
arguments (:class:`xrdsim.simulation.kernel_inputs.KernelArguments`) through the slot
layout of :mod:`xrdsim.simulation.layout`; called per pattern by
:mod:`xrdsim.simulation.render_kernel`. The torch twin is ``xrdsim_training.torch_sim.lines``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation.crystal_kernel import (
    N_STRAIN_DRAWS,
    march_dollase,
    quad,
    strain_draws,
    strained_metric,
)
from xrdsim.simulation.layout import const, op, param
from xrdsim.simulation.rng import (
    STREAM_INTENSITY,
    STREAM_ORIENTATION,
    STREAM_POSITION,
    stream_key,
    uniform,
)

# slots read here (numba freezes module globals as constants)
ON_STRAIN, ON_ZERO, ON_DISPL = op("lattice_strain"), op("zero_shift"), op("displacement")
ON_POSN, ON_PCROP, ON_INTN = op("position_noise"), op("peak_crop"), op("intensity_noise")
ON_PO, ON_DOUBLET, ON_TUBE = op("preferred_orientation"), op("doublet"), op("tube_lines")
P_LSTRAIN, P_DELTA = param("lattice_strain.amplitude"), param("zero_shift.delta")
P_DISPL, P_POSN = param("displacement.shift"), param("position_noise.amplitude")
P_PCLO, P_PCHI = param("peak_crop.low"), param("peak_crop.high")
P_INTN, P_PO = param("intensity_noise.amplitude"), param("preferred_orientation.r")
P_RATIO = param("doublet.ratio")
P_KBETA, P_W = param("tube_lines.kbeta"), param("tube_lines.tungsten")
C_CUTOFF, C_RADIUS_D = const("profile.tail_cutoff"), const("displacement.radius")

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
    if on[ON_PCROP] and (x < prm[P_PCLO] or x > prm[P_PCHI]):
        return nl
    lx[nl] = x
    ly[nl] = w
    return nl + 1


@nb.njit(cache=True)
def make_lines(a, lo, hi, prm, key, lx, ly):
    """Instrument lines of one pattern (peaks ``lo:hi`` of ``a``) into (lx, ly); returns
    their number.

    Per peak i: lattice strain (each wavelength's sin θ_i times d_i/d′_i, d′ from the
    line's hkl in :func:`strained_metric` of its crystal), zero shift, position noise
    δ_i ~ U(−a, a), intensity noise
    y_i(1 + ℓ(2u − 1)), preferred orientation (:func:`march_dollase`, direction drawn
    from ``dirs``); then one line per wavelength (``tt`` rows: Kα1 or single line,
    Kα2, Kβ1, W Lα1), each moved by the displacement Δ2θ = −2s·cosθ/R. A Kβ / W line
    is kept when its intensity reaches ``tail_cutoff`` × the strongest input peak (the
    profile drops features below that fraction of each peak as well).

    Args:
        a: :class:`~xrdsim.simulation.kernel_inputs.KernelArguments`.
        lo, hi: the pattern's peaks; prm: (P,) its parameters; key: its pattern key.
        lx, ly: (≥ LINES_PER_PEAK·(hi − lo),) float64 outputs.
    """
    tt, inten, on, consts, hkl, phase, gs = a.tt, a.inten, a.on, a.consts, a.hkl, a.phase, a.gs
    kpos = stream_key(key, STREAM_POSITION)
    kint = stream_key(key, STREAM_INTENSITY)
    nl = 0
    floor = 0.0
    for i in range(hi - lo):
        floor = max(floor, inten[lo + i])
    floor *= consts[C_CUTOFF]
    dirs = a.dirs
    direction = dirs[min(int(uniform(stream_key(key, STREAM_ORIENTATION), 0) * dirs.shape[0]),
                         dirs.shape[0] - 1)]  # fmt: skip
    ratio = prm[P_RATIO]
    draws = np.empty(N_STRAIN_DRAWS)
    strained = np.empty(9)
    strained_of = -1  # crystal whose strained metric ``strained`` holds
    if on[ON_STRAIN]:
        strain_draws(key, prm[P_LSTRAIN], draws)
    for i in range(hi - lo):
        scale = 1.0  # d / d′ of the line
        if on[ON_STRAIN]:
            ph = phase[lo + i]
            if ph != strained_of:
                strained_metric(gs[ph], a.mask[ph], a.ops, draws, strained)
                strained_of = ph
            scale = math.sqrt(quad(hkl[lo + i], strained) / quad(hkl[lo + i], gs[ph]))
        shift = 0.0
        if on[ON_ZERO]:
            shift += prm[P_DELTA]
        if on[ON_POSN]:  # δ_i = a·(2u − 1) ~ U(−a, a)
            shift += prm[P_POSN] * (2.0 * uniform(kpos, i) - 1.0)
        y = inten[lo + i]
        if on[ON_INTN]:  # y ← y·(1 + ℓ(2u − 1))
            y = y * (1.0 + prm[P_INTN] * (2.0 * uniform(kint, i) - 1.0))
        if on[ON_PO]:  # March–Dollase, averaged over the line's equivalent reflections
            ph = phase[lo + i]
            y = y * march_dollase(hkl[lo + i], gs[ph], a.mask[ph], a.ops, direction, prm[P_PO])
        for line in range(LINES_PER_PEAK):
            if line == 0:  # Kα1 : Kα2 = 1 : r, total intensity kept
                w = y / (1.0 + ratio) if on[ON_DOUBLET] else y
            elif line == 1:
                if not on[ON_DOUBLET]:
                    continue
                w = y * ratio / (1.0 + ratio)
            elif not on[ON_TUBE]:
                break
            else:
                w = y * (prm[P_KBETA] if line == 2 else prm[P_W])
                if w < floor:
                    continue
            x0 = tt[line, lo + i]
            if math.isnan(x0):  # cannot diffract at this wavelength
                continue
            if on[ON_STRAIN]:  # sin θ′ = sin θ · d / d′
                s_ = math.sin(0.5 * x0 * _DEG2RAD) * scale
                if s_ >= 1.0:  # no longer diffracts
                    continue
                x0 = 2.0 * _RAD2DEG * math.asin(s_)
            x = x0 + shift
            if on[ON_DISPL]:  # Δ2θ = −2s·cosθ/R
                x -= _RAD2DEG * 2.0 * prm[P_DISPL] * math.cos(0.5 * x0 * _DEG2RAD) / consts[
                    C_RADIUS_D]
            nl = _push(x, w, prm, on, lx, ly, nl)
    return nl
