"""The render stage in batched torch: instrument lines → (B, 12,000) float32 patterns.

Torch twin of :mod:`xrdsim.simulation.render_kernel`: everything ``render_one`` does after
``make_lines``, in the same order: sticks (sum or mean binning), impurity peaks, profile
(exact or binned positions, with sample broadening), transparency, scale to the maximum,
background polynomial, amorphous humps, air scatter, Poisson counts, counting noise,
background noise, scan range, renormalisation and final crop. All patterns and lines of a
batch at once (loops only over ops, humps, impurity peaks, Poisson steps and window
chunks), in float64 until the final float32 cast, on the device of the lines.
"""

from __future__ import annotations

import torch
from xrdsim_training.torch_sim import noise
from xrdsim_training.torch_sim import profile as P
from xrdsim_training.torch_sim.rng import stream_key, uniform

from xrdsim.grid import BIN_WIDTH, N_BINS
from xrdsim.simulation import render_kernel as K
from xrdsim.simulation import rng as R
from xrdsim.simulation.kernel_inputs import KernelArguments
from xrdsim.simulation.layout import ITEM_SLOTS
from xrdsim.simulation.profile_kernel import TABLE_DU


def _centres(device: torch.device) -> torch.Tensor:
    return (torch.arange(N_BINS, device=device, dtype=torch.float64) + 0.5) * BIN_WIDTH


class _Items:
    """Per-item draws of :data:`~xrdsim.simulation.layout.ITEM_SLOTS` (``rng.transform`` in
    torch)."""

    def __init__(self, item_kind, item_lo, item_hi, item_off, item_n, vals):
        ints = [torch.as_tensor(a, dtype=torch.int64).tolist() for a in (item_kind, item_off,
                                                                         item_n)]
        floats = [torch.as_tensor(a, dtype=torch.float64).tolist() for a in (item_lo, item_hi)]
        self.slots = list(zip(ints[0], *floats, ints[1], ints[2], strict=True))
        self.vals = torch.as_tensor(vals, dtype=torch.float64)
        self.host = self.vals.tolist()

    def draw(self, slot: int, u: torch.Tensor) -> torch.Tensor:
        """Map u ∈ [0, 1) to a draw of ITEM_SLOTS[slot], as ``rng.transform``."""
        kind, lo, hi, off, n = self.slots[slot]
        if kind == R.KIND_FIXED:
            return torch.full_like(u, lo)
        if kind == R.KIND_UNIFORM:  # lo + (hi − lo)·u
            return lo + (hi - lo) * u
        if kind == R.KIND_PLUSMINUS:  # sign from the half of u, magnitude U(lo, hi)
            return torch.where(u < 0.5, -(lo + (hi - lo) * (2.0 * u)),
                               lo + (hi - lo) * (2.0 * u - 1.0))
        if kind == R.KIND_CHOICE:  # vals[⌊u·n⌋]
            return self.vals.to(u.device)[off + (u * n).long().clamp(max=n - 1)]
        if kind == R.KIND_RANDINT:  # lo + ⌊u·(hi − lo + 1)⌋
            span = int(hi - lo)
            return lo + (u * (span + 1)).long().clamp(max=span).to(u.dtype)
        if kind == R.KIND_LOGUNIFORM:
            return torch.exp(lo + (hi - lo) * u)
        if kind in (R.KIND_BANDS, R.KIND_LOGBANDS):  # t = u·Σ(b − a), walked band by band
            edges = self.host[off : off + n]
            total = 0.0
            for i in range(0, n, 2):
                total += edges[i + 1] - edges[i]
            t = u * total
            x = torch.full_like(u, edges[n - 1])
            done = torch.zeros_like(u, dtype=torch.bool)
            for i in range(0, n, 2):
                width = edges[i + 1] - edges[i]
                hit = ~done & (t < width)
                x = torch.where(hit, edges[i] + t, x)
                done = done | hit
                t = torch.where(done, t, t - width)
            return torch.exp(x) if kind == R.KIND_LOGBANDS else x
        raise ValueError(f"item slot {ITEM_SLOTS[slot]!r} has unknown distribution code {kind}")


def _scale_to_max(y: torch.Tensor) -> torch.Tensor:
    """y / max(y) per pattern (times the reciprocal, as numba) where the maximum is > 0."""
    mx = y.max(dim=1, keepdim=True).values
    inv = torch.where(mx > 0.0, 1.0 / mx, torch.ones_like(mx))
    return y * inv


def _sticks(x, y, valid, mean: bool) -> torch.Tensor:
    """(B, N_BINS) float64: line intensities summed per bin ⌊x/h⌋ (mean where ≥ 2 lines)."""
    n_pat = x.shape[0]
    j = torch.floor(x / BIN_WIDTH)
    keep = valid & (j < N_BINS)
    idx = (torch.arange(n_pat, device=x.device)[:, None] * N_BINS
           + j.clamp(0, N_BINS - 1).long()).reshape(-1)
    sticks = torch.zeros(n_pat * N_BINS, dtype=torch.float64, device=x.device)
    sticks.index_add_(0, idx, torch.where(keep, y, torch.zeros_like(y)).reshape(-1))
    if mean:
        counts = torch.zeros_like(sticks)
        counts.index_add_(0, idx, keep.to(torch.float64).reshape(-1))
        sticks = torch.where(counts > 1.0, sticks / counts, sticks)
    return sticks.view(n_pat, N_BINS)


def _impurities(sticks, prm, keys, consts, items):
    """(x, height) of every impurity peak: (B, M), height 0 where there is none.

    Peak m of pattern b: x = lo + (hi − lo)·u(2m), height = a(u(2m+1))·max(sticks_b),
    present when m < count_b and max(sticks_b) > 0.
    """
    count = prm[:, K.P_IMPN].long()
    m_max = int(count.max()) if count.numel() else 0
    base = sticks.max(dim=1).values
    kimp = stream_key(keys, R.STREAM_IMPURITY)[:, None]
    mm = torch.arange(m_max, device=sticks.device)[None, :]
    lo, hi = consts[K.C_IMP_LO], consts[K.C_IMP_HI]
    x = lo + (hi - lo) * uniform(kimp, 2 * mm)
    a = items.draw(K.I_IMPURITY, uniform(kimp, 2 * mm + 1))
    present = (mm < count[:, None]) & (base[:, None] > 0.0)
    return x, torch.where(present, a * base[:, None], torch.zeros_like(a))


def _profile(lines, sticks, prm, on, consts, tables, trig, edge_chunk, compiled):
    """(B, N_BINS) float64 profile of the lines (exact) or of the sticks (binned)."""
    eta, rho = prm[:, K.P_ETA], prm[:, K.P_RHO]
    k = P.half_window(eta, consts[K.C_CUTOFF])
    nk = (torch.ceil(k / TABLE_DU) + 1.0).long()
    coef = P.cubic_tables(tables, eta, rho, nk)
    width = coef.shape[1] // max(eta.shape[0], 1)
    shape = {"U": prm[:, K.P_U], "V": prm[:, K.P_V], "W": prm[:, K.P_W],
             "P": prm[:, K.P_P], "strain": prm[:, K.P_STRAIN],
             "size": prm[:, K.P_SIZE] if on[K.ON_BROADEN] else torch.zeros_like(eta)}
    t_lo = nk - k / TABLE_DU
    t_hi = nk + k / TABLE_DU
    y = torch.zeros_like(sticks)
    wavelength = consts[K.C_WAVELENGTH]
    if consts[K.C_EXACT] > 0.0:
        x, s = lines
        jlo, nbins, t0, dt = P.exact_windows(x, s, {n: v[:, None] for n, v in shape.items()},
                                             k, nk, wavelength)
        b = torch.arange(x.shape[0], device=x.device)[:, None].expand_as(x)
        args = (b, s, jlo, nbins, t0, dt)
        args = tuple(v.reshape(-1) for v in args)
    else:
        args = P.binned_windows(sticks, trig, shape, k, nk, wavelength)
    P.add_windows(y, coef, width, *args, t_lo, t_hi, edge_chunk=edge_chunk, compiled=compiled)
    return y


def _noise(y, prm, keys, on, items, normal_q):
    """Background, humps, air scatter and the three noise ops, in numba's order."""
    if on[K.ON_BACKGROUND]:  # cubic Bernstein: Σ c_k C(3,k) t^k (1−t)^(3−k), t = 2θ/120°
        t = (torch.arange(N_BINS, device=y.device, dtype=torch.float64) + 0.5) / N_BINS
        s = 1.0 - t
        c = [prm[:, slot, None] for slot in (K.P_C0, K.P_C1, K.P_C2, K.P_C3)]
        y = y + (c[0] * s * s * s + 3.0 * c[1] * t * s * s + 3.0 * c[2] * t * t * s
                 + c[3] * t * t * t)
    if on[K.ON_AMORPH]:  # hump m uses counters 4m + (height, centre, FWHM, η)
        ka = stream_key(keys, R.STREAM_AMORPHOUS)
        count = prm[:, K.P_HUMPS].long()
        for mm in range(int(count.max()) if count.numel() else 0):
            h, c, w, e = (items.draw(slot, uniform(ka, torch.full_like(ka, 4 * mm + i)))
                          for i, slot in enumerate((K.I_HEIGHT, K.I_CENTER, K.I_FWHM, K.I_ETA))
                          )  # tensor counter: rng.uniform wraps only tensors
            y = noise.add_hump(y, h, c, w, e, mm < count)
    if on[K.ON_AIR]:
        y = noise.add_air_scatter(y, prm[:, K.P_AIR_A], prm[:, K.P_AIR_T])
    if on[K.ON_POISSON]:
        y = noise.add_poisson(y, prm[:, K.P_POISSON], stream_key(keys, R.STREAM_POISSON))
    if on[K.ON_COUNTING]:
        y = noise.add_counting(y, prm[:, K.P_COUNTS], stream_key(keys, R.STREAM_COUNTING),
                               normal_q)
    if on[K.ON_BGNOISE]:
        y = noise.add_background_noise(y, prm[:, K.P_BGN_A], prm[:, K.P_BGN_D],
                                       stream_key(keys, R.STREAM_BACKGROUND))
    return y


def render_lines(lines, a: KernelArguments, *, edge_chunk: int | None = None,
                 compile_profile: bool = False) -> torch.Tensor:
    """Render B patterns from their instrument lines, as numba ``render_one`` after
    ``make_lines``.

    Args:
        lines: ``Lines`` (x (B, L) float64 degrees 2θ, y (B, L) float64 intensities, 0 at
            padding, valid (B, L) bool), from :func:`xrdsim_training.torch_sim.lines.
            make_lines`; line order inside a pattern does not matter.
        a: the kernel arguments as tensors (``on`` Python bools); the render stage reads
            offsets (only its length), params, keys, on, consts, the item_* codes, vals,
            tables, trig and normal_q.
        edge_chunk: (line, edge) pairs of the profile per block, ≈ 100 B each (None:
            ``profile.EDGE_CHUNK`` on the CPU, ``EDGE_CHUNK_ACCELERATOR`` elsewhere); it
            bounds memory and does not change the result.
        compile_profile: evaluate the profile blocks through ``torch.compile`` (fused
            kernels; compiled on the first call, then reused; same result).

    Returns:
        (B, N_BINS) float32 on the lines' device; equal to numba's ``render_batch``
        output within float64 rounding before the cast (Poisson counts identical).
    """
    offsets, params, keys, on, consts = a.offsets, a.params, a.keys, a.on, a.consts
    device = lines.x.device
    n_pat = lines.x.shape[0]
    if edge_chunk is None:
        edge_chunk = P.EDGE_CHUNK if device.type == "cpu" else P.EDGE_CHUNK_ACCELERATOR
    if lines.y.shape != lines.x.shape or lines.valid.shape != lines.x.shape:
        raise ValueError(f"lines.x, y and valid must have one (B, L) shape, got "
                         f"{tuple(lines.x.shape)}, {tuple(lines.y.shape)}, "
                         f"{tuple(lines.valid.shape)}")
    if params.shape[0] != n_pat or keys.shape[0] != n_pat or offsets.shape[0] != n_pat + 1:
        raise ValueError(f"lines hold {n_pat} patterns but params {tuple(params.shape)}, keys "
                         f"{tuple(keys.shape)} and offsets {tuple(offsets.shape)} disagree")
    if n_pat == 0:
        return torch.zeros((0, N_BINS), dtype=torch.float32, device=device)
    with torch.inference_mode():
        c = torch.as_tensor(consts, dtype=torch.float64).tolist()
        prm = params.to(device=device, dtype=torch.float64)
        keys = keys.to(device)
        items = _Items(a.item_kind, a.item_lo, a.item_hi, a.item_off, a.item_n, a.vals)
        valid = lines.valid.to(device)
        zero = torch.zeros((), dtype=torch.float64, device=device)
        x = torch.where(valid, lines.x.to(torch.float64), zero)  # padding: x = y = 0
        s = torch.where(valid, lines.y.to(torch.float64), zero)
        sticks = _sticks(x, s, valid, c[K.C_MEAN] > 0.0)
        exact = bool(on[K.ON_PROFILE]) and c[K.C_EXACT] > 0.0
        if on[K.ON_IMPURITY]:
            ix, iy = _impurities(sticks, prm, keys, c, items)
            if exact:
                x, s = torch.cat([x, ix], 1), torch.cat([s, iy], 1)
            else:  # bin min(⌊x/h⌋, N − 1)
                j = torch.floor(ix / BIN_WIDTH).clamp(max=N_BINS - 1).long()
                sticks = sticks.scatter_add(1, j, iy)
        if on[K.ON_PROFILE]:
            y = _profile((x, s), sticks, prm, on, c, a.tables.to(device), a.trig.to(device),
                         edge_chunk, compile_profile)
        else:
            y = sticks
        if on[K.ON_TRANSP]:
            y = P.add_transparency(y, prm[:, K.P_MU], c[K.C_RADIUS_T])
        y = _scale_to_max(y)
        y = _noise(y, prm, keys, on, items, a.normal_q.to(device))
        centres = _centres(device)[None, :]
        if on[K.ON_SCAN]:  # nothing measured outside the scan
            outside = (centres < prm[:, K.P_SCAN_LO, None]) | (centres > prm[:, K.P_SCAN_HI, None])
            y = torch.where(outside, torch.zeros_like(y), y)
        if on[K.ON_RENORM]:
            y = _scale_to_max(y)
        if on[K.ON_FCROP]:
            crop = (centres < prm[:, K.P_FC_LO, None]) | (centres > prm[:, K.P_FC_HI, None])
            y = torch.where(crop, torch.zeros_like(y), y)
        return y.to(torch.float32)


__all__ = ["render_lines"]
