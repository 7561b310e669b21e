"""Every input of the render kernel, built once from a config and the caller's peaks.

:class:`KernelArguments` is the one definition of the kernel interface: the numba render
loop (:func:`xrdsim.simulation.render_kernel.render_batch`) reads it field by field, and
the torch twin (``xrdsim_training.torch_sim``) carries the same tuple as tensors on a
device. :func:`kernel_arguments` validates ragged peaks once and fills every field: pattern
keys, the parameter draw, line positions per wavelength, the crystal arrays of preferred
orientation and lattice strain, the profile shape tables.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy import integrate, special

from xrdsim.errors import PeakInputError
from xrdsim.grid import convert_two_theta, grid_centers
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.holohedry import (
    candidate_operations,
    check_hkl,
    directions_array,
    orientation_inputs,
)
from xrdsim.simulation.layout import op, param
from xrdsim.simulation.profile_kernel import TABLE_DU, TABLE_NODES
from xrdsim.simulation.sampling import EncodedConfig, encode_config, pattern_keys
from xrdsim.wavelengths import TUNGSTEN_LALPHA1

#: Ops that need each line's hkl and its crystal's cell: (op, parameter, value recorded
#: when no crystal is given and the op is skipped).
CRYSTAL_OPS = (("preferred_orientation", "r", 1.0), ("lattice_strain", "amplitude", 0.0))


class KernelArguments(NamedTuple):
    """Every input of the render kernel for B patterns (NumPy arrays for numba; the torch
    twin holds the same fields as tensors, ``on`` as a tuple of Python bools).

    Attributes:
        tt: (4, n) float64 positions, degrees 2θ, of the concatenated peaks for Kα1 (or
            the single line), Kα2, Kβ1 and W Lα1 (NaN where a line cannot diffract or its
            op is off).
        inten: (n,) float64 intensities; offsets: (B+1,) int64 ragged bounds.
        params: (B, P) float64 in ``layout.PARAM_SLOTS`` order (NaN for ops that are off).
        keys: (B,) uint64 pattern keys (int64 with the same bits in torch).
        on: (n_ops,) bool flags in ``layout.OP_ORDER``.
        consts: (N_CONSTS,) float64 settings in ``layout.CONSTS`` order.
        hkl: (n, 3) int64 line indices; phase: (n,) int64 row of each line's crystal in
            gs: (C, 9) float64 reciprocal metrics and mask: (C, M) bool holohedries among
            ops: (M, 9) float64; dirs: (D, 3) float64 preferred directions (1-element
            dummies when neither crystal op is on).
        item_kind, item_off, item_n: (I,) int64 and item_lo, item_hi: (I,) float64
            distribution codes of ``layout.ITEM_SLOTS`` (``sampling.encode_config``); vals:
            float64 choice values and band edges of both parameter sets.
        tables: (8, TABLE_NODES) float64 shape tables (:func:`shape_tables`); trig:
            (2, N_BINS) float64 tan θ_j and cos θ_j of the bin centres; normal_q:
            (NORMAL_NODES,) float64 normal quantile nodes.
    """

    tt: Any
    inten: Any
    offsets: Any
    params: Any
    keys: Any
    on: Any
    consts: Any
    hkl: Any
    phase: Any
    gs: Any
    mask: Any
    ops: Any
    dirs: Any
    item_kind: Any
    item_lo: Any
    item_hi: Any
    item_off: Any
    item_n: Any
    vals: Any
    tables: Any
    trig: Any
    normal_q: Any

    @property
    def n_patterns(self) -> int:
        return int(self.offsets.shape[0]) - 1


#: Nodes of the tabulated standard-normal quantile used for counting noise; the
#: table ends at u = 0.5/M, i.e. |z| ≤ 3.84σ (tails beyond, p = 1.2e-4, are folded in).
NORMAL_NODES = 8192
#: Sub-steps per table node for the numerical integrals ∫pV·erf (Simpson, error < 1e-13).
_FINE = 16

@functools.lru_cache(maxsize=1)
def shape_tables() -> np.ndarray:
    """(8, TABLE_NODES) float64 tables on u = n·du ≥ 0 (u = Δ2θ/FWHM).

    Rows: g, l (area-normalised Gaussian / Lorentzian of unit FWHM), g·erf, l·erf,
    ∫₀ᵘg, ∫₀ᵘl (closed forms), ∫₀ᵘg·erf, ∫₀ᵘl·erf (Simpson on a 16× finer grid).
    """
    u = np.arange(TABLE_NODES) * TABLE_DU
    uf = np.arange((TABLE_NODES - 1) * _FINE + 1) * (TABLE_DU / _FINE)
    ln2 = math.log(2.0)

    def gauss(x: np.ndarray) -> np.ndarray:  # (2/Γ)√(ln2/π)·exp(−4 ln2 x²/Γ²), Γ = 1
        return 2.0 * math.sqrt(ln2 / math.pi) * np.exp(-4.0 * ln2 * x * x)

    def lorentz(x: np.ndarray) -> np.ndarray:  # (2/(πΓ)) / (1 + 4x²/Γ²), Γ = 1
        return (2.0 / math.pi) / (1.0 + 4.0 * x * x)

    cum = [
        integrate.cumulative_simpson(f(uf) * special.erf(uf), x=uf, initial=0.0)[::_FINE]
        for f in (gauss, lorentz)
    ]
    tables = np.stack(
        [
            gauss(u),
            lorentz(u),
            gauss(u) * special.erf(u),
            lorentz(u) * special.erf(u),
            0.5 * special.erf(2.0 * math.sqrt(ln2) * u),
            np.arctan(2.0 * u) / math.pi,
            cum[0],
            cum[1],
        ]
    )
    tables = np.ascontiguousarray(tables)
    tables.setflags(write=False)
    return tables


@functools.lru_cache(maxsize=1)
def grid_trig() -> np.ndarray:
    """(2, 12000) float64: tan θ_j and cos θ_j at the bin centres (θ = 2θ/2)."""
    theta = np.deg2rad(grid_centers() / 2.0)
    trig = np.ascontiguousarray(np.stack([np.tan(theta), np.cos(theta)]))
    trig.setflags(write=False)
    return trig


@functools.lru_cache(maxsize=1)
def normal_quantiles() -> np.ndarray:
    """Φ⁻¹((k + ½)/M) for k = 0…M−1, M = :data:`NORMAL_NODES` (float64)."""
    q = special.ndtri((np.arange(NORMAL_NODES) + 0.5) / NORMAL_NODES)
    q.setflags(write=False)
    return q


def needs_crystal(cfg: SimulationConfig) -> bool:
    """True when an op of ``cfg`` reads the lines' hkl and cells (:data:`CRYSTAL_OPS`)."""
    return any(cfg.enabled(name) for name, _, _ in CRYSTAL_OPS)


def line_positions(tt: np.ndarray, cfg: SimulationConfig, enc: EncodedConfig) -> np.ndarray:
    """(4, n) float64 2θ of every peak for Kα1 (or the single line), Kα2, Kβ1 and W Lα1.

    Rows of ops that are off are NaN; a line that cannot diffract (sin θ > 1) is NaN.
    """
    rows = np.full((4, tt.size), np.nan)
    with np.errstate(invalid="ignore"):
        if enc.on[op("doublet")]:
            for r, lam in enumerate(enc.kalpha):
                rows[r] = convert_two_theta(tt, from_wavelength=cfg.wavelength, to_wavelength=lam)
        else:
            rows[0] = tt
        if enc.on[op("tube_lines")]:
            for r, lam in ((2, enc.kbeta), (3, TUNGSTEN_LALPHA1)):
                rows[r] = convert_two_theta(tt, from_wavelength=cfg.wavelength, to_wavelength=lam)
    return rows


def orientation_arrays(cfg: SimulationConfig, active: bool, hkl: Any, cells: Any, phase: Any,
                       offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Crystal inputs of preferred orientation and lattice strain (1-element dummies when
    ``active`` is False: neither op is on).

    Without ``phase`` the crystal of pattern b (``cells[b]``) owns all its lines;
    with it, line i belongs to crystal ``cells[phase[i]]`` (multi-phase patterns).
    """
    ops = np.ascontiguousarray(candidate_operations().reshape(-1, 9), dtype=np.float64)
    n_pat, n_peaks = offsets.size - 1, int(offsets[-1])
    if not active:
        return (np.zeros((1, 3), np.int64), np.zeros(1, np.int64), np.zeros((1, 9)),
                np.zeros((1, ops.shape[0]), np.bool_), ops, np.ones((1, 3)))  # fmt: skip
    if phase is None:
        phase = np.repeat(np.arange(n_pat, dtype=np.int64), np.diff(offsets))
        n_cells = n_pat
    else:
        phase = np.ascontiguousarray(phase, dtype=np.int64)
        n_cells = 0 if cells is None else np.asarray(cells).reshape(-1, 6).shape[0]
    gs, mask = orientation_inputs(cells, n_cells)
    dirs = directions_array(cfg.op("preferred_orientation").settings["directions"])
    return check_hkl(hkl, n_peaks), phase, gs, mask, ops, dirs


def check_peaks(tt: np.ndarray, inten: np.ndarray, offsets: np.ndarray) -> None:
    """Refuse ragged peaks the kernels cannot take (bad shapes, offsets, NaN/inf, < 0)."""
    if tt.ndim != 1 or inten.shape != tt.shape:
        raise PeakInputError(
            f"two_theta and intensity must be 1-D of equal length, got {tt.shape} and {inten.shape}"
        )
    if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != tt.size:
        raise PeakInputError(
            f"offsets must be 1-D, start at 0 and end at len(two_theta)={tt.size}, got "
            f"{offsets[:3].tolist()}...{offsets[-3:].tolist()}"
        )
    if (np.diff(offsets) < 0).any():
        raise PeakInputError("offsets must be non-decreasing (ragged bounds of each pattern)")
    for arr, what in ((tt, "two_theta"), (inten, "intensity")):
        bad = ~np.isfinite(arr) | ((arr < 0) if what == "intensity" else False)
        if bad.any():
            i = int(np.argmax(bad))
            b = int(np.searchsorted(offsets, i, side="right") - 1)
            raise PeakInputError(
                f"pattern {b}, peak {i - offsets[b]}: {what} = {float(arr[i])!r}; "
                f"{what} must be finite"
                + (" and >= 0" if what == "intensity" else "")
                + " (drop or repair the peak list)"
            )


def kernel_arguments(two_theta, intensity, offsets, cfg: SimulationConfig,
                     matrix_fn: Callable[[SimulationConfig, EncodedConfig, np.ndarray], Any], *,
                     seed, structure_keys, views, hkl=None, cells=None, phase=None,
                     mixed=False) -> KernelArguments:  # fmt: skip
    """Validate ragged peaks and build every kernel input.

    ``cfg`` is a loaded :class:`SimulationConfig` (the public entry points load it once);
    ``matrix_fn(cfg, enc, keys)`` gives the (B, P) parameters; ``mixed``: the peaks already
    hold each pattern's extra phases (:mod:`xrdsim.simulation.phases`). Otherwise a bare
    peak list has no other structures to mix in, and ``mixture.phases`` is recorded as 0;
    without ``hkl`` and ``cells`` there is no crystal to orient or strain, and
    ``preferred_orientation.r`` is recorded as 1 (no texture), ``lattice_strain.amplitude``
    as 0.
    """
    tt = np.ascontiguousarray(two_theta, dtype=np.float64)
    inten = np.ascontiguousarray(intensity, dtype=np.float64)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    check_peaks(tt, inten, offs)
    n_pat = offs.size - 1
    sk = np.broadcast_to(np.asarray(structure_keys, dtype=np.int64), (n_pat,))
    vw = np.broadcast_to(np.asarray(views, dtype=np.int64), (n_pat,))
    keys = pattern_keys(seed, sk, vw)
    enc = encode_config(cfg)
    matrix = np.array(matrix_fn(cfg, enc, keys), dtype=np.float64, order="C")
    if cfg.enabled("mixture") and not mixed:
        matrix[:, param("mixture.phases")] = 0.0
    on = enc.on.copy()
    if hkl is None or cells is None:  # no crystal given: nothing to orient or strain
        for name, par, neutral in CRYSTAL_OPS:
            if on[op(name)]:
                on[op(name)] = False
                matrix[:, param(f"{name}.{par}")] = neutral
    crystal = any(on[op(name)] for name, _, _ in CRYSTAL_OPS)
    hkl_, phase_, gs, mask, ops, dirs = orientation_arrays(cfg, crystal, hkl, cells, phase, offs)
    return KernelArguments(
        tt=line_positions(tt, cfg, enc), inten=inten, offsets=offs, params=matrix, keys=keys,
        on=on, consts=enc.consts, hkl=hkl_, phase=phase_, gs=gs, mask=mask, ops=ops, dirs=dirs,
        item_kind=enc.item_kind, item_lo=enc.item_lo, item_hi=enc.item_hi,
        item_off=enc.item_off, item_n=enc.item_n, vals=enc.choice_vals, tables=shape_tables(),
        trig=grid_trig(), normal_q=normal_quantiles(),
    )  # fmt: skip
