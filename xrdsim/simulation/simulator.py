"""The simulator's front door: full 12,000-bin patterns from Bragg peak lists (das2025
Table 1 and beyond).

:func:`simulate_batch` validates the ragged peak input once, draws every per-pattern
parameter (:mod:`xrdsim.simulation.sampling`) and renders all patterns in one parallel numba call
(:func:`xrdsim.simulation.render_kernel.render_batch` on the
:class:`~xrdsim.simulation.kernel_inputs.KernelArguments`); :func:`render` does the same with
parameters given by the caller; :func:`simulate` is the one-pattern form. Each public
function loads its config once (:func:`load_config`) and hands the loaded config on.

A pattern is a pure function of (peaks, config, seed, structure_key, view): the same
bytes alone, in any batch, on any number of threads or workers. An empty peak list is
allowed: its pattern holds only what the background ops add (background polynomial,
noise), renormalised, and is all zeros when none of them is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numba
import numpy as np

from xrdsim.errors import ConfigError, PeakInputError
from xrdsim.grid import N_BINS
from xrdsim.simulation import caglioti
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.kernel_inputs import grid_trig, kernel_arguments
from xrdsim.simulation.layout import PARAM_SLOTS, param
from xrdsim.simulation.ops import OPS
from xrdsim.simulation.render_kernel import render_batch
from xrdsim.simulation.sampling import draw_matrix, params_to_dict
from xrdsim.wavelengths import check_peak_wavelength

T = TypeVar("T")

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


def run_simulation(two_theta, intensity, offsets, cfg: SimulationConfig, matrix_fn, *, seed,
                   structure_keys, views, threads, hkl=None, cells=None, phase=None,
                   mixed=False) -> SimulationResult:  # fmt: skip
    """Build every kernel input (:func:`~xrdsim.simulation.kernel_inputs.kernel_arguments`,
    same arguments) and render: shared by all entry points, ``cfg`` already loaded."""
    args = kernel_arguments(two_theta, intensity, offsets, cfg, matrix_fn, seed=seed,
                            structure_keys=structure_keys, views=views, hkl=hkl, cells=cells,
                            phase=phase, mixed=mixed)  # fmt: skip
    out = np.empty((args.n_patterns, N_BINS), dtype=np.float32)
    _with_threads(threads, lambda: render_batch(args, out))
    return SimulationResult(patterns=out, params=params_to_dict(cfg, args.params))


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
        two_theta, intensity, offsets, load_config(config),
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
            m[:, param(name)] = col
        if cfg.enabled("profile"):  # FWHM² > 0 on every bin, as config validation demands
            tan, cos = grid_trig()
            u, v, w, q = (m[:, param(f"profile.{k}")][:, None] for k in "UVWP")
            bad = (caglioti.fwhm2(u, v, w, q, tan, cos) <= 0.0).any(axis=1)
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
    res = run_simulation(
        tt, inten, np.array([0, tt.size]), cfg,
        lambda cfg_, enc, keys: draw_matrix(cfg_, enc, seed, keys),
        seed=seed, structure_keys=np.array([structure_key]), views=np.array([view]), threads=None,
        hkl=None if hkl is None else np.asarray(hkl).reshape(-1, 3),
        cells=None if cell is None else np.asarray(cell, dtype=np.float64).reshape(1, 6),
    )  # fmt: skip
    return res.patterns[0], {k: v[0].item() for k, v in res.params.items()}
