"""What the network sees: one view of a pattern for simulated and measured data alike.

:class:`PatternView` is the first, parameter-free layer of :class:`~xrdsim_training.models.XrdNet`,
so every pattern that reaches the encoder — a simulated training view, a stored
equivariance row, a measured file prepared by ``xrdsim predict`` — goes through the same
steps, with the settings saved in the checkpoint (``ModelConfig.view_*``):

1. **window**: bins outside ``[lo, hi)`` degrees 2θ become 0 (default 5–90°, the scan of
   a laboratory diffractometer; measured files are zero outside their scan already);
2. **background**: within the window, on the span from the first to the last non-zero
   bin (a measured file's scan, a simulated view's crop), the SNIP background of
   :func:`xrdsim.measured.background.estimate_background` (moving average with the end
   values extended, LLS compression, decreasing clipping windows, no padding; its
   default 0.3° smoothing and 1° window) on a 0.1° coarse grid (:func:`snip_batch`) is
   subtracted, and negative bins are set to 0;
3. **input grid**: with ``crop`` the encoder gets only the window's bins (8,500 for
   5–90°, not 12,000 with zeros around them), and every ``pool`` adjacent 0.01° bins are
   averaged into one input sample (``pool`` 2: 0.02° steps, 4,250 samples);
4. **normalisation** to a maximum of 1.

Why (``benchmarks/experiments/bench_view.py``, five single-phase shared files vs eight
``train`` views of their CIFs, docs/training.md "One view for both worlds"): with SNIP
subtracted from the measured file only (the old ``predict`` default), the measured median
level is 0.005 of the maximum and the simulated one 0.031, and 12 % of measured bins are
negative; with nothing subtracted, 0.091 vs 0.031; with this view on both, 0.002 vs 0.003
and no negative bins, and the cosine margin between a file's own phase and the other
phases rises from 0.56 (old) and 0.29 (none) to 0.77.
"""

from __future__ import annotations

import torch
from torch import nn

from xrdsim.grid import BIN_WIDTH, N_BINS, TWO_THETA_MIN
from xrdsim.measured.background import SMOOTH_DEG, SNIP_WIDTH_DEG

#: Bins averaged into one before SNIP: 0.1°, a tenth of the SNIP window and a third of
#: the smoothing width, so the background (smooth over degrees) is unchanged while the
#: clipping costs ~100× less (10× fewer points, 10× fewer passes).
COARSE = 10


class PatternView(nn.Module):
    """Window, SNIP background subtraction with clipping, max = 1 (see module docstring).

    Args:
        two_theta_range: ``(lo, hi)`` degrees 2θ kept; ``(0, 120)`` keeps the whole grid.
        background: ``"snip"`` or ``"none"``.
        crop: return only the window's bins (else the whole grid, zeros outside).
        pool: bins averaged into one output sample (1 = the 0.01° grid); the window's
            last ``n mod pool`` bins are dropped.
    """

    def __init__(self, two_theta_range: tuple[float, float], background: str, *,
                 crop: bool = False, pool: int = 1):
        super().__init__()
        lo, hi = (float(v) for v in two_theta_range)
        self.first = max(0, int(round((lo - TWO_THETA_MIN) / BIN_WIDTH)))
        self.stop = min(N_BINS, int(round((hi - TWO_THETA_MIN) / BIN_WIDTH)))
        self.background = background
        self.crop = crop
        self.pool = pool

    @property
    def length(self) -> int:
        """Samples per view (the encoder's input length)."""
        n = self.stop - self.first if self.crop else N_BINS
        return n // self.pool

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 12000) or (B, 1, 12000) patterns → float32 views (B, length) or (B, 1, length)."""
        if x.dim() == 3:
            return self.forward(x.flatten(1)).unsqueeze(1)
        x = x.float()
        w = x[:, self.first:self.stop]
        if self.background == "snip" and w.shape[1] > 2 * COARSE:
            w = torch.clamp(w - snip_batch(w), min=0.0)
        if self.crop:
            out = w
        else:
            out = torch.zeros_like(x)
            out[:, self.first:self.stop] = w
        if self.pool > 1:
            n = out.shape[1] // self.pool * self.pool
            out = out[:, :n].reshape(out.shape[0], -1, self.pool).mean(2)
        peak = out.amax(dim=1, keepdim=True)
        return torch.where(peak > 0, out / peak.clamp_min(1e-30), out)


#: Fraction of a row's maximum below which a value counts as outside the scan (zero).
SPAN_FLOOR = 1e-6


def snip_batch(y: torch.Tensor, *, coarse: int = COARSE) -> torch.Tensor:
    """SNIP background of every row of ``y`` (B, n) on its non-zero span, 0 elsewhere.

    Each row's span (first to last non-zero value) is extended past its ends by the end
    values, averaged over ``coarse`` bins, and
    :func:`xrdsim.measured.background.estimate_background` (``method="snip"``, its default
    width and smoothing) runs on the coarse span; the
    result is interpolated linearly back to the bin centres of the span. Row by row the
    same numbers as that NumPy procedure (tests/training/models/test_view.py), ~100× cheaper
    than SNIP on the fine grid.
    """
    b, n = y.shape
    y = y.float()
    idx = torch.arange(n, device=y.device).expand(b, n)
    # the scan's span: values above SPAN_FLOOR of the row maximum (a scan's zeros stay
    # zeros only to rounding once a file is resampled onto the grid: ~1e-13 must not count)
    nonzero = y.abs() > SPAN_FLOOR * y.abs().amax(dim=1, keepdim=True)
    lo = torch.argmax(nonzero.int(), 1)
    hi = n - 1 - torch.argmax(nonzero.flip(1).int(), 1)
    inside = (idx >= lo[:, None]) & (idx <= hi[:, None])
    ext = torch.where(idx < lo[:, None], y.gather(1, lo[:, None]).expand(b, n), y)
    ext = torch.where(idx > hi[:, None], y.gather(1, hi[:, None]).expand(b, n), ext)
    nc = -(-n // coarse)
    ext = torch.cat([ext, ext[:, -1:].expand(b, nc * coarse - n)], 1)
    yc = ext.view(b, nc, coarse).mean(2)
    lo_c, hi_c = lo // coarse, hi // coarse
    step = BIN_WIDTH * coarse
    smooth = round(SMOOTH_DEG / step)
    if smooth > 1:  # centred moving average, ends extended by the end values
        k = 2 * (smooth // 2) + 1
        r = k // 2
        idc = torch.arange(nc, device=y.device).expand(b, nc)
        e = torch.where(idc < lo_c[:, None], yc.gather(1, lo_c[:, None]).expand(b, nc), yc)
        e = torch.where(idc > hi_c[:, None], yc.gather(1, hi_c[:, None]).expand(b, nc), e)
        padded = torch.cat([e[:, :1].expand(b, r), e, e[:, -1:].expand(b, r)], 1).double()
        c = torch.cumsum(torch.nn.functional.pad(padded, (1, 0)), 1)
        yc = ((c[:, k:] - c[:, :-k]) / k).float()
    idc = torch.arange(nc, device=y.device).expand(b, nc)
    in_c = (idc >= lo_c[:, None]) & (idc <= hi_c[:, None])
    offset = torch.clamp(torch.where(in_c, yc, torch.inf).amin(1, keepdim=True), max=0.0)
    # LLS compression v = ln(ln(√(y+1)+1)+1)
    v = torch.log(torch.log(torch.sqrt(yc - offset + 1.0) + 1.0) + 1.0)
    # a pass p clips coarse bin i only when lo <= i − p and i + p <= hi (no padding)
    reach = torch.minimum(idc - lo_c[:, None], hi_c[:, None] - idc)
    half = max(1, round(SNIP_WIDTH_DEG / step))
    # passes wider than a row's reach leave it unchanged (the mask below), so the count
    # comes from the shape alone: no device → host sync in the network's first layer
    for p in range(min(half, (nc - 1) // 2), 0, -1):
        # v_i <- min(v_i, (v_{i-p} + v_{i+p}) / 2)
        mid = v[:, p:-p]
        clipped = torch.minimum(mid, 0.5 * (v[:, :-2 * p] + v[:, 2 * p:]))
        v[:, p:-p] = torch.where(reach[:, p:-p] >= p, clipped, mid)
    bg = torch.minimum((torch.exp(torch.exp(v) - 1.0) - 1.0) ** 2 - 1.0 + offset, yc)
    # linear interpolation from the coarse centres of the span (coarse·i + (coarse − 1)/2)
    # to the bins, constant beyond the first and last centre (np.interp)
    pos = (idx.float() - (coarse - 1) / 2) / coarse
    pos = torch.minimum(torch.maximum(pos, lo_c[:, None].float()), hi_c[:, None].float())
    left = pos.floor().long()
    frac = pos - left
    lo_v, hi_v = bg.gather(1, left), bg.gather(1, (left + 1).clamp(max=nc - 1))
    full = lo_v + frac * (hi_v - lo_v)
    return torch.where(inside, full, torch.zeros_like(full))
