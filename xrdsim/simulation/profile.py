"""Full 12,000-bin patterns from Bragg peak lists (das2025 Table 1 and beyond).

:func:`simulate_batch` validates the ragged peak input once, draws every per-pattern
parameter (:mod:`xrdsim.simulation.sampling`) and renders all patterns in one parallel numba call
(:func:`xrdsim.simulation.ops_kernel.render_batch`); :func:`render` does the same with
parameters given by the caller; :func:`simulate` is the one-pattern form.

A pattern is a pure function of (peaks, config, seed, structure_key, view): the same
bytes alone, in any batch, on any number of threads or workers. An empty peak list is
allowed: its pattern holds only what the background ops add (background polynomial,
noise), renormalised, and is all zeros when none of them is on.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numba
import numpy as np
from scipy import integrate, special

from xrdsim.errors import ConfigError, PeakInputError
from xrdsim.grid import N_BINS, grid_centers
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.kernel_inputs import (
    CRYSTAL_OPS,
    check_peaks,
    line_positions,
    orientation_arrays,
)
from xrdsim.simulation.ops import OPS
from xrdsim.simulation.ops_kernel import PARAM_SLOTS, render_batch
from xrdsim.simulation.profile_kernel import TABLE_DU, TABLE_NODES
from xrdsim.simulation.sampling import draw_matrix, encode_config, params_to_dict, pattern_keys
from xrdsim.wavelengths import check_peak_wavelength

#: Nodes of the tabulated standard-normal quantile used for counting noise; the
#: table ends at u = 0.5/M, i.e. |z| ≤ 3.84σ (tails beyond, p = 1.2e-4, are folded in).
NORMAL_NODES = 8192
#: Sub-steps per table node for the numerical integrals ∫pV·erf (Simpson, error < 1e-13).
_FINE = 16

T = TypeVar("T")


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


def structure_key(structure_id: str) -> int:
    """Stable 63-bit key of a structure id (BLAKE2b, not Python's salted ``hash``)."""
    digest = hashlib.blake2b(str(structure_id).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


@dataclass(frozen=True)
class SimulationResult:
    """Patterns and the parameters that made them.

    Attributes:
        patterns: (B, 12000) float32, C-contiguous, on the model grid.
        params: dotted name → (B,) array (float32; int32 for integer parameters), one per
            :meth:`SimulationConfig.param_names`.
    """

    patterns: np.ndarray
    params: dict[str, np.ndarray]


def _with_threads(threads: int | None, fn: Callable[[], T]) -> T:
    if threads is None:
        return fn()
    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= limit:
        raise ConfigError(f"threads must be None or an integer in [1, {limit}], got {threads!r}")
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return fn()
    finally:
        numba.set_num_threads(old)


@dataclass(frozen=True)
class KernelArguments:
    """Every input of :func:`xrdsim.simulation.ops_kernel.render_batch` but ``out``, as
    validated NumPy arrays with the names, shapes and meaning documented there, plus the
    resolved config (so any backend, numba or torch, renders from the same arrays)."""

    config: SimulationConfig
    tt: np.ndarray
    inten: np.ndarray
    offsets: np.ndarray
    params: np.ndarray
    keys: np.ndarray
    on: np.ndarray
    consts: np.ndarray
    hkl: np.ndarray
    phase: np.ndarray
    gs: np.ndarray
    mask: np.ndarray
    ops: np.ndarray
    dirs: np.ndarray
    item_kind: np.ndarray
    item_lo: np.ndarray
    item_hi: np.ndarray
    item_off: np.ndarray
    item_n: np.ndarray
    vals: np.ndarray
    tables: np.ndarray
    trig: np.ndarray
    normal_q: np.ndarray

    def kernel_tuple(self) -> tuple[np.ndarray, ...]:
        """The arguments in :func:`render_batch` order (without ``out``)."""
        return tuple(getattr(self, f.name) for f in fields(self)[1:])


def kernel_arguments(two_theta, intensity, offsets, config, matrix_fn, *, seed, structure_keys,
                     views, hkl=None, cells=None, phase=None, mixed=False) -> KernelArguments:
    """Validate ragged peaks and build every kernel input (see :func:`run_simulation`)."""
    cfg = load_config(config)
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
        matrix[:, PARAM_SLOTS.index("mixture.phases")] = 0.0
    on = enc.on.copy()
    names = [op.name for op in OPS]
    if hkl is None or cells is None:  # no crystal given: nothing to orient or strain
        for name, param, neutral in CRYSTAL_OPS:
            if on[names.index(name)]:
                on[names.index(name)] = False
                matrix[:, PARAM_SLOTS.index(f"{name}.{param}")] = neutral
    crystal = any(on[names.index(name)] for name, _, _ in CRYSTAL_OPS)
    hkl_, phase_, gs, mask, ops, dirs = orientation_arrays(cfg, crystal, hkl, cells, phase, offs)
    return KernelArguments(
        config=cfg, tt=line_positions(tt, cfg, enc), inten=inten, offsets=offs, params=matrix,
        keys=keys, on=on, consts=enc.consts, hkl=hkl_, phase=phase_, gs=gs, mask=mask, ops=ops,
        dirs=dirs, item_kind=enc.item_kind, item_lo=enc.item_lo, item_hi=enc.item_hi,
        item_off=enc.item_off, item_n=enc.item_n, vals=enc.choice_vals, tables=shape_tables(),
        trig=grid_trig(), normal_q=normal_quantiles(),
    )  # fmt: skip


def run_simulation(two_theta, intensity, offsets, config, matrix_fn, *, seed, structure_keys, views,
                   threads, hkl=None, cells=None, phase=None, mixed=False):  # fmt: skip
    """Validate ragged peaks, build every kernel input, render (shared by all entry points).

    ``matrix_fn(cfg, enc, keys)`` gives the (B, P) parameters; ``mixed``: the peaks already
    hold each pattern's extra phases (:mod:`xrdsim.simulation.phases`). Otherwise a bare
    peak list has no other structures to mix in, and ``mixture.phases`` is recorded as 0;
    without ``hkl`` and ``cells`` there is no crystal to orient or strain, and
    ``preferred_orientation.r`` is recorded as 1 (no texture), ``lattice_strain.amplitude``
    as 0.
    """
    args = kernel_arguments(two_theta, intensity, offsets, config, matrix_fn, seed=seed,
                            structure_keys=structure_keys, views=views, hkl=hkl, cells=cells,
                            phase=phase, mixed=mixed)  # fmt: skip
    out = np.empty((args.offsets.size - 1, N_BINS), dtype=np.float32)
    _with_threads(threads, lambda: render_batch(*args.kernel_tuple(), out))
    return SimulationResult(patterns=out, params=params_to_dict(args.config, args.params))


def simulate_batch(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    offsets: np.ndarray,
    config: SimulationConfig | str,
    *,
    seed: int,
    structure_keys: np.ndarray | int,
    views: np.ndarray | int,
    threads: int | None = None,
    hkl: np.ndarray | None = None,
    cells: np.ndarray | None = None,
) -> SimulationResult:
    """Simulate B patterns from ragged peak lists (all sampling and ops in numba).

    Args:
        two_theta: (n,) degrees 2θ of the concatenated peaks of B patterns, at
            ``config.wavelength``.
        intensity: (n,) intensities (any scale, finite, ≥ 0).
        offsets: (B+1,) int64, peaks of pattern b are ``[offsets[b], offsets[b+1])``.
        config: a :class:`SimulationConfig` or anything :func:`load_config` takes.
        seed: integer in [0, 2⁶⁴).
        structure_keys: (B,) non-negative int64 (see :func:`structure_key`) or one int.
        views: (B,) non-negative view indices or one int.
        threads: numba threads (None: numba's default; 1: single core).
        hkl: (n,) × 3 Miller indices of every line, and cells: (B, 6) a, b, c (Å), α, β,
            γ (°) of every pattern — used only by ``preferred_orientation`` (without
            them it is skipped and ``r`` recorded as 1). ``mixture`` needs a peak
            database (:func:`xrdsim.simulation.phases.simulate_database`); here
            ``mixture.phases`` is recorded as 0.

    Returns:
        :class:`SimulationResult` with (B, 12000) float32 patterns and (B,) parameters.

    Raises:
        PeakInputError: NaN/inf positions, NaN/inf/negative intensities, bad offsets.
        ConfigError: bad config, seed, keys or thread count.
    """
    return run_simulation(
        two_theta, intensity, offsets, config,
        lambda cfg, enc, keys: draw_matrix(cfg, enc, seed, keys),
        seed=seed, structure_keys=structure_keys, views=views, threads=threads, hkl=hkl,
        cells=cells,
    )  # fmt: skip


def render(
    two_theta: np.ndarray,
    intensity: np.ndarray,
    offsets: np.ndarray,
    config: SimulationConfig | str,
    params: dict[str, Any],
    *,
    seed: int,
    structure_keys: np.ndarray | int,
    views: np.ndarray | int,
    threads: int | None = None,
    hkl: np.ndarray | None = None,
    cells: np.ndarray | None = None,
) -> SimulationResult:
    """Like :func:`simulate_batch`, with the per-pattern parameters given.

    ``params`` maps every name of ``config.param_names()`` to a (B,) array (or a scalar
    for all patterns). The in-op noise (per-peak jitter, impurity positions, counting
    and background noise) still comes from the (seed, structure_key, view) streams.

    Raises:
        ConfigError: a missing or unknown name, or a value outside the parameter's
            allowed range (same ranges as config validation).
    """
    cfg = load_config(config)
    names = cfg.param_names()
    extra = sorted(set(params) - set(names))
    missing = [n for n in names if n not in params]
    if extra or missing:
        raise ConfigError(f"params: missing {missing}, not used by this config {extra}")
    specs = {f"{op.name}.{p.name}": p for op in OPS for p in op.params}

    def matrix_fn(_cfg: SimulationConfig, _enc: Any, keys: np.ndarray) -> np.ndarray:
        m = np.full((keys.size, len(PARAM_SLOTS)), np.nan)
        for name in names:
            col = np.broadcast_to(np.asarray(params[name], dtype=np.float64), (keys.size,))
            spec = specs[name]
            if not (np.isfinite(col).all() and (col >= spec.lo).all() and (col <= spec.hi).all()):
                raise ConfigError(
                    f"params[{name!r}] ({spec.meaning}) must lie in [{spec.lo}, {spec.hi}]"
                )
            m[:, PARAM_SLOTS.index(name)] = col
        if cfg.enabled("profile"):  # FWHM² > 0 on every bin, as config validation demands
            tan, cos = grid_trig()
            u, v, w, q = (m[:, PARAM_SLOTS.index(f"profile.{k}")][:, None] for k in "UVWP")
            bad = ((u * tan * tan + v * tan + w + q / (cos * cos)) <= 0.0).any(axis=1)
            if bad.any():
                b = int(np.argmax(bad))
                uvwp = [float(x[b, 0]) for x in (u, v, w, q)]
                raise ConfigError(
                    f"params for pattern {b}: FWHM² = U·tan²θ + V·tanθ + W + P/cos²θ ≤ 0 "
                    f"somewhere on 0–120° with (U, V, W, P) = {uvwp}"
                )
        return m

    return run_simulation(
        two_theta, intensity, offsets, cfg, matrix_fn,
        seed=seed, structure_keys=structure_keys, views=views, threads=threads, hkl=hkl,
        cells=cells,
    )  # fmt: skip


def _as_peaks(peaks: Any) -> tuple[np.ndarray, np.ndarray, float | None]:
    if isinstance(peaks, tuple) and len(peaks) == 2:
        return np.asarray(peaks[0]), np.asarray(peaks[1]), None
    if hasattr(peaks, "two_theta") and hasattr(peaks, "intensity"):
        return (
            np.asarray(peaks.two_theta),
            np.asarray(peaks.intensity),
            getattr(peaks, "wavelength", None),
        )
    raise PeakInputError(
        f"peaks must be a PeakList, an object with .two_theta/.intensity, or a "
        f"(two_theta, intensity) tuple; got {type(peaks).__name__}"
    )


def simulate(
    peaks: Any,
    config: SimulationConfig | str,
    *,
    seed: int,
    structure_key: int = 0,
    view: int = 0,
    cell: Any = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Simulate one pattern; identical to row 0 of :func:`simulate_batch` on the same key.

    ``cell`` (a, b, c, α, β, γ) is needed only by ``preferred_orientation`` and
    ``lattice_strain``, which also take the hkl of a :class:`xrdsim.PeakList`, indexed in
    that cell. Give a conventional cell (the lattice's holohedry is found among the
    operations of m-3m and 6/mmm in their standard axes): a peak database's entry and
    ``db.cells``, or ``StructureLabels.standard_miller`` and ``.lattice`` for peaks of
    :func:`xrdsim.compute_peaks`.

    Returns:
        (pattern (12000,) float32, dict of the sampled parameters as Python numbers).

    Raises:
        PeakInputError: bad peaks, or a peak list computed at another wavelength than
            ``config.wavelength``.
    """
    cfg = load_config(config)
    tt, inten, wavelength = _as_peaks(peaks)
    if wavelength is not None:
        check_peak_wavelength(wavelength, cfg.wavelength, source="the peak list")
    tt, inten = np.ravel(tt), np.ravel(inten)
    hkl = getattr(peaks, "hkl", None)
    res = simulate_batch(
        tt, inten, np.array([0, tt.size]), cfg, seed=seed,
        structure_keys=np.array([structure_key]), views=np.array([view]),
        hkl=None if hkl is None else np.asarray(hkl).reshape(-1, 3),
        cells=None if cell is None else np.asarray(cell, dtype=np.float64).reshape(1, 6),
    )  # fmt: skip
    return res.patterns[0], {k: v[0].item() for k, v in res.params.items()}
