"""Patterns straight from a peak database, with multi-phase samples.

:func:`simulate_database` is what dataset builds and on-the-fly training call: it reads
the peaks (and, for preferred orientation, the hkl and unit cell) of the asked
structures, and for the ``mixture`` op adds to each pattern 0–2 extra phases — other
structures of the same database, chosen by the pattern key — at a drawn weight fraction w.
Each phase p is scaled by the Rietveld weight-fraction rule (Hill & Howard, J. Appl.
Cryst. 20, 467 (1987)): I_p ∝ w_p·|F|²·LP·m / (Z·M·V)_p, with Z·M the mass of the unit
cell (u) and V its volume (Å³). The label stays the first (majority) phase's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xrdsim.simulation import rng
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.kernel_inputs import needs_crystal
from xrdsim.simulation.layout import param
from xrdsim.simulation.sampling import draw_matrix, encode_config, pattern_keys
from xrdsim.simulation.simulator import SimulationResult, run_simulation

#: Most extra phases a pattern can hold (``mixture.phases`` ≤ 2).
MAX_EXTRA = 2

#: (database path, structure index) → Z·M·V, computed once per process.
_ZMV: dict[tuple[str, int], float] = {}


def cell_zmv(db: Any, indices: np.ndarray) -> np.ndarray:
    """(k,) Z·M·V (u·Å³) of the given structures: cell mass from the reduced formula and
    the number of sites, times the cell volume."""
    from pymatgen.core import Composition

    out = np.empty(len(indices))
    labels = None
    for n, i in enumerate(np.asarray(indices, dtype=np.int64).tolist()):
        key = (str(db.path), i)
        if key not in _ZMV:
            labels = labels or db.labels
            comp = Composition(str(labels["formula"][i]))
            mass = comp.weight * float(labels["num_sites"][i]) / comp.num_atoms
            a, b, c, al, be, ga = (float(labels[k][i]) for k in
                                   ("a", "b", "c", "alpha", "beta", "gamma"))  # fmt: skip
            ca, cb, cg = np.cos(np.deg2rad([al, be, ga]))
            volume = a * b * c * np.sqrt(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg)
            _ZMV[key] = float(mass) * float(volume)
        out[n] = _ZMV[key]
    return out


def mixture_partners(keys: np.ndarray, own: np.ndarray, n_structures: int) -> np.ndarray:
    """(B, MAX_EXTRA) int64 database rows of each pattern's candidate extra phases.

    Row m = ⌊u_m·S⌋ with u_m from the pattern's mixture stream; the pattern's own
    structure is replaced by the next row, so a phase never mixes with itself.
    """
    u = rng.stream_uniforms(keys, rng.STREAM_MIXTURE, MAX_EXTRA)
    rows = np.minimum((u * n_structures).astype(np.int64), n_structures - 1)
    same = rows == own[:, None]
    rows[same] = (rows[same] + 1) % n_structures
    return rows


def simulate_database(
    db: Any,
    indices: np.ndarray,
    config: SimulationConfig | str,
    *,
    seed: int,
    structure_keys: np.ndarray,
    views: np.ndarray,
    threads: int | None = None,
) -> SimulationResult:
    """Simulate one pattern per entry of ``indices`` from a :class:`PeakDatabase`.

    Same bytes as :func:`simulate_batch` on the structures' peaks when neither
    ``mixture`` nor a crystal op (``preferred_orientation``, ``lattice_strain``) is on;
    with them, the extra phases and the hkl / cells come from ``db``. A pattern depends
    only on (config, seed, structure key, view) and the database, never on the batch.
    """
    cfg = load_config(config)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    crystal = needs_crystal(cfg)  # preferred orientation or lattice strain
    if not cfg.enabled("mixture") or len(db) < 2:
        batch = db.ragged(idx, hkl=crystal)
        return run_simulation(batch.two_theta, batch.intensity, batch.offsets, cfg,
                              lambda cfg_, enc, keys: draw_matrix(cfg_, enc, seed, keys),
                              seed=seed, structure_keys=structure_keys, views=views,
                              threads=threads, hkl=batch.hkl,
                              cells=db.cells(idx) if crystal else None)  # fmt: skip
    sk = np.broadcast_to(np.asarray(structure_keys, dtype=np.int64), idx.shape)
    vw = np.broadcast_to(np.asarray(views, dtype=np.int64), idx.shape)
    keys = pattern_keys(seed, sk, vw)
    matrix = draw_matrix(cfg, encode_config(cfg), seed, keys)
    n_extra = matrix[:, param("mixture.phases")].astype(np.int64)
    frac = matrix[:, param("mixture.fraction")]
    partners = mixture_partners(keys, idx, len(db))
    # phases of every pattern, in order: own structure, then its n_extra partners
    take = np.arange(MAX_EXTRA)[None, :] < n_extra[:, None]
    counts = 1 + n_extra
    rows = np.empty(int(counts.sum()), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows[starts] = idx
    rows[np.setdiff1d(np.arange(rows.size), starts)] = partners[take]
    weights = np.repeat(frac, counts)
    weights[starts] = 1.0 - n_extra * frac
    batch = db.ragged(rows, hkl=crystal, raw=True)
    per_phase = np.diff(batch.offsets)
    scale = np.repeat(weights / cell_zmv(db, rows), per_phase)
    pattern_of_phase = np.repeat(np.arange(idx.size), counts)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(pattern_of_phase, weights=per_phase,
                                                         minlength=idx.size))]).astype(np.int64)
    phase = np.repeat(np.arange(rows.size, dtype=np.int64), per_phase)
    return run_simulation(
        batch.two_theta, batch.intensity * scale, offsets, cfg, lambda *_: matrix, seed=seed,
        structure_keys=sk, views=vw, threads=threads, hkl=batch.hkl,
        cells=db.cells(rows) if crystal else None, phase=phase if crystal else None, mixed=True,
    )  # fmt: skip

