"""The line stage in batched torch: peak lists → instrument lines of every pattern at once.

Torch twin of :mod:`xrdsim.simulation.lines_kernel` (``make_lines`` and its ``_push``; the
crystal ops in :mod:`.crystal`) for a whole batch, without a Python loop over patterns or peaks. Per
peak i of pattern b: lattice strain (:mod:`.crystal`: each wavelength's sin θ times d / d′),
zero shift + position noise δ_i = a·(2u − 1), intensity noise
y_i·(1 + ℓ(2u − 1)), preferred orientation (:mod:`.crystal`); then one line per
wavelength (Kα1 or the single line, Kα2, Kβ1, W Lα1) moved by the displacement
Δ2θ = −2s·cosθ/R, kept when it lies on the grid [0, 120°) and inside the peak-crop
window; a Kβ / W line also needs tail_cutoff × the pattern's strongest peak. Every
uniform u comes from the same counter-based stream as numba (:mod:`.rng`), so pattern b
gets the same lines (as a multiset) in any batch, on any device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from xrdsim_training.torch_sim import rng
from xrdsim_training.torch_sim.crystal import march_dollase, strain_scale

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import lines_kernel as K
from xrdsim.simulation.kernel_inputs import KernelArguments
from xrdsim.simulation.rng import STREAM_INTENSITY, STREAM_ORIENTATION, STREAM_POSITION

_RAD2DEG = 180.0 / math.pi
_DEG2RAD = math.pi / 180.0
#: Upper grid edge (degrees 2θ): a line is kept when 0 ≤ x < _TOP (``lines_kernel._push``).
_TOP = N_BINS * BIN_WIDTH


@dataclass(frozen=True)
class Lines:
    """Instrument lines of B patterns, padded to the longest.

    Attributes:
        x: (B, L) float64 positions, degrees 2θ; padding entries are 0.0.
        y: (B, L) float64 intensities; exactly 0.0 at padding.
        valid: (B, L) bool, False at padding.
    """

    x: torch.Tensor
    y: torch.Tensor
    valid: torch.Tensor


def _column(params: torch.Tensor, slot: int, pat: torch.Tensor) -> torch.Tensor:
    """Parameter ``slot`` of each peak's pattern, (n,) float64."""
    return params[:, slot][pat]


@torch.inference_mode()
def make_lines(a: KernelArguments) -> Lines:
    """Lines of every pattern of a batch (numba ``make_lines`` for all b at once).

    ``a`` holds the kernel arguments as tensors on one device (``on`` a tuple of Python
    bools); only the line stage's fields are read: tt, inten, offsets, params, keys, on,
    consts and, with preferred orientation or lattice strain on, hkl, phase, gs, mask,
    ops and dirs.

    Returns:
        :class:`Lines` (B, L), L = most lines of any pattern; lines of pattern b are
        the multiset numba's ``make_lines`` gives (here in peak order, Kα1 … W Lα1 per
        peak, as numba appends them), bit-identical in any batch. No impurity lines
        (they belong to the render stage).
    """
    tt, inten, offsets, params, keys, on, consts = (a.tt, a.inten, a.offsets, a.params, a.keys,
                                                    a.on, a.consts)  # fmt: skip
    hkl, phase, gs, mask, ops, dirs = a.hkl, a.phase, a.gs, a.mask, a.ops, a.dirs
    dev = inten.device
    n_pat, n = offsets.shape[0] - 1, inten.shape[0]
    counts = offsets[1:] - offsets[:-1]
    pat = torch.repeat_interleave(torch.arange(n_pat, device=dev), counts, output_size=n)
    local = torch.arange(n, device=dev) - offsets[:-1][pat]  # counter = peak index in pattern
    pkeys = keys[pat]
    # floor = tail_cutoff · max(0, strongest peak of the pattern)
    floor = torch.zeros(n_pat, dtype=torch.float64, device=dev)
    floor = floor.scatter_reduce(0, pat, inten, reduce="amax", include_self=True)
    floor = (floor * consts[K.C_CUTOFF])[pat]

    shift = torch.zeros(n, dtype=torch.float64, device=dev)
    if on[K.ON_ZERO]:
        shift = shift + _column(params, K.P_DELTA, pat)
    if on[K.ON_POSN]:  # δ_i = a·(2u − 1) ~ U(−a, a)
        u = rng.uniform(rng.stream_key(pkeys, STREAM_POSITION), local)
        shift = shift + _column(params, K.P_POSN, pat) * (2.0 * u - 1.0)
    y = inten
    if on[K.ON_INTN]:  # y ← y·(1 + ℓ(2u − 1))
        u = rng.uniform(rng.stream_key(pkeys, STREAM_INTENSITY), local)
        y = y * (1.0 + _column(params, K.P_INTN, pat) * (2.0 * u - 1.0))
    if on[K.ON_PO]:  # March–Dollase, averaged over the line's equivalent reflections
        n_dirs = dirs.shape[0]
        ud = rng.uniform(rng.stream_key(keys, STREAM_ORIENTATION), 0)
        pick = torch.clamp((ud * n_dirs).to(torch.int64), max=n_dirs - 1)
        y = y * march_dollase(hkl=hkl, phase=phase, gs=gs, mask=mask, ops=ops,
                              direction=dirs[pick][pat], r=_column(params, K.P_PO, pat))

    # candidate lines (n, k) of the wavelength rows in use: Kα1 (or the single line),
    # Kα2, Kβ1, W Lα1; a row that cannot diffract is NaN in tt
    if on[K.ON_DOUBLET]:  # Kα1 : Kα2 = 1 : r, total intensity kept
        ratio = _column(params, K.P_RATIO, pat)
        rows, weights = [0, 1], [y / (1.0 + ratio), y * ratio / (1.0 + ratio)]
    else:
        rows, weights = [0], [y]
    strong = [torch.ones_like(y, dtype=torch.bool)] * len(rows)
    if on[K.ON_TUBE]:  # kept when reaching tail_cutoff × the strongest peak
        for row, slot in ((2, K.P_KBETA), (3, K.P_W)):
            w = y * _column(params, slot, pat)
            rows.append(row)
            weights.append(w)
            strong.append(~(w < floor))
    x0 = tt[rows].T  # (n, k)
    if on[K.ON_STRAIN]:  # sin θ′ = sin θ · d / d′; a line past sin θ′ = 1 no longer diffracts
        scale = strain_scale(hkl=hkl, phase=phase, pat=pat, gs=gs, mask=mask, ops=ops, keys=keys,
                             amplitude=params[:, K.P_LSTRAIN])
        s_ = torch.sin(0.5 * x0 * _DEG2RAD) * scale[:, None]
        moved = 2.0 * _RAD2DEG * torch.asin(torch.clamp(s_, max=1.0))
        x0 = torch.where(s_ >= 1.0, torch.nan, moved)
    x = x0 + shift[:, None]
    if on[K.ON_DISPL]:  # Δ2θ = −2s·cosθ/R
        s = _column(params, K.P_DISPL, pat)[:, None]
        x = x - _RAD2DEG * 2.0 * s * torch.cos(0.5 * x0 * _DEG2RAD) / consts[K.C_RADIUS_D]
    w = torch.stack(weights, dim=1)
    ok = torch.stack(strong, dim=1) & ~torch.isnan(x0) & (x >= 0.0) & (x < _TOP)  # on the grid
    if on[K.ON_PCROP]:  # ... and inside the peak-crop window
        lo = _column(params, K.P_PCLO, pat)[:, None]
        hi = _column(params, K.P_PCHI, pat)[:, None]
        ok = ok & ~((x < lo) | (x > hi))
    return _pack(x.reshape(-1), w.reshape(-1), ok.reshape(-1),
                 pat.repeat_interleave(len(rows)), n_pat)  # fmt: skip


def _pack(x: torch.Tensor, w: torch.Tensor, ok: torch.Tensor, owner: torch.Tensor,
          n_pat: int) -> Lines:  # fmt: skip
    """Scatter the kept candidates (in order) into (B, L) rows of their patterns."""
    dev = x.device
    per = torch.zeros(n_pat, dtype=torch.int64, device=dev).index_add_(0, owner, ok.long())
    width = int(per.max()) if n_pat else 0
    start = torch.cumsum(per, 0) - per  # kept lines before each pattern
    slot = torch.cumsum(ok.long(), 0) - 1 - start[owner]  # place inside the pattern's row
    out_x = torch.zeros((n_pat, width), dtype=torch.float64, device=dev)
    out_y = torch.zeros_like(out_x)
    valid = torch.zeros((n_pat, width), dtype=torch.bool, device=dev)
    rows, cols = owner[ok], slot[ok]
    out_x[rows, cols] = x[ok]
    out_y[rows, cols] = w[ok]
    valid[rows, cols] = True
    return Lines(x=out_x, y=out_y, valid=valid)
