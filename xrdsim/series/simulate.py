"""Simulate one labelled phase-transition series (sun2023's before / during / after).

A structure (phase 1) travels along a path of pressure or temperature in ``n_steps`` even
steps; its cell follows Birch–Murnaghan or linear expansion (:mod:`xrdsim.series.eos`).
Around a drawn point of the path, for a drawn width, a second phase (a polymorph given
by the caller, or a symmetry-lowering distortion of phase 1) grows: its weight fraction
ramps linearly 0 → 1 across the coexistence interval. Every pattern goes through the
profile simulator (:func:`xrdsim.simulation.simulator.render`) with one instrument drawn
per series and small per-step drifts of zero shift, peak width and counts.

Labels: 0 = before (second-phase fraction 0), 1 = during (0 < fraction < 1),
2 = after (fraction 1). Everything random is keyed on (seed, series name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.series.config import DISTORTIONS, SeriesConfig
from xrdsim.series.eos import bm3_volume_ratio, thermal_volume_ratio
from xrdsim.series.phases import DISTORTED_MERGE_TOL, distorted, mix, phase_lines, scaled
from xrdsim.simulation.config import load_config
from xrdsim.simulation.ops import OPS
from xrdsim.simulation.sampling import sample_parameters
from xrdsim.simulation.simulator import render, structure_key

#: Class names of the labels, by index.
CLASSES = ("before", "during", "after")
#: Merge tolerance (° 2θ) of an undistorted phase: pymatgen's.
MERGE_TOL = 1e-5
#: Fractions this close to 0 or 1 are snapped to it: the ramp's floating-point noise at
#: its ends (≈ 1e-16) must not turn a pure-phase step into a "during" one.
FRACTION_SNAP = 1e-9


@dataclass(frozen=True)
class Series:
    """One series, in order of the external variable.

    Attributes:
        name: the series name (its group in a series store).
        patterns: (N, 12000) float32 on the model grid.
        variable: (N,) float64, pressure (GPa) or temperature (K).
        fractions: (N, 2) float32 weight fractions of phase 1 and phase 2 (rows sum to 1).
        labels: (N,) int8, 0 before / 1 during / 2 after.
        lattice: (N, 2, 6) float32 a, b, c (Å), α, β, γ (°) of each phase at each step
            (also where the phase is absent).
        attrs: JSON-able description: variable and unit, phases, drawn physics, the
            coexistence interval, the instrument, the config and the seed.
    """

    name: str
    patterns: np.ndarray
    variable: np.ndarray
    fractions: np.ndarray
    labels: np.ndarray
    lattice: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


def second_phase_fraction(position: np.ndarray, *, centre: float, width: float) -> np.ndarray:
    """Weight fraction of phase 2 at path positions in [0, 1]: a linear ramp, clipped."""
    f = np.clip((np.asarray(position) - (centre - width / 2.0)) / width, 0.0, 1.0)
    return np.where(f < FRACTION_SNAP, 0.0, np.where(f > 1.0 - FRACTION_SNAP, 1.0, f))


def labels_from_fractions(fraction_2: np.ndarray) -> np.ndarray:
    """0 where phase 2 is absent, 2 where it is all, 1 in between (int8)."""
    f = np.asarray(fraction_2)
    return np.where(f <= 0.0, 0, np.where(f >= 1.0, 2, 1)).astype(np.int8)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _volume_ratios(cfg: SeriesConfig, values: np.ndarray, physics: dict) -> np.ndarray:
    if cfg.variable == "pressure":
        return bm3_volume_ratio(values, k0=physics["k0"], k0_prime=physics["k0_prime"])
    return thermal_volume_ratio(values, alpha=physics["alpha"])


def _instrument(sim, key: int, seed: int, cfg: SeriesConfig, rng) -> dict[str, np.ndarray]:
    """Per-step parameters: one draw per series, then random-walk drifts."""
    base = sample_parameters(sim, seed=seed, structure_keys=np.array([key]), views=np.array([0]))
    n = cfg.n_steps
    params = {name: np.full(n, v[0]) for name, v in base.items()}
    walk = np.cumsum(rng.normal(size=(3, n)), axis=1)
    if "zero_shift.delta" in params:
        params["zero_shift.delta"] = params["zero_shift.delta"] + cfg.zero_shift_drift * walk[0]
    if "profile.W" in params:
        params["profile.W"] = params["profile.W"] * np.exp(cfg.width_drift * walk[1])
    if "counting_noise.counts" in params:
        jump = np.exp(cfg.counts_drift * rng.normal(size=n))
        params["counting_noise.counts"] = params["counting_noise.counts"] * jump
    specs = {f"{op.name}.{p.name}": p for op in OPS for p in op.params}
    # drifts stay inside each parameter's physical range (e.g. counts >= 1)
    return {k: np.clip(v, specs[k].lo, specs[k].hi) for k, v in params.items()}


def simulate_series(
    structure: Any,
    *,
    name: str,
    config: SeriesConfig,
    seed: int,
    structure_id: str,
    polymorph: Any = None,
    polymorph_id: str | None = None,
    threads: int | None = None,
) -> Series:
    """Simulate one series (see the module docstring).

    Args:
        structure: pymatgen ``Structure`` of phase 1 at the path's reference (ambient).
        name: series name; with ``seed`` it keys every random draw.
        config: the :class:`SeriesConfig`.
        seed: integer in [0, 2⁶³).
        structure_id: id of phase 1 (recorded).
        polymorph: optional pymatgen ``Structure`` of phase 2 (same composition); without
            it phase 2 is a symmetry-lowering distortion of phase 1.
        polymorph_id: id of phase 2 (recorded).
        threads: numba threads of the profile simulator.

    Raises:
        ConfigError: a polymorph of another composition, a path beyond the EOS bracket.
    """
    if polymorph is not None and (
        polymorph.composition.reduced_formula != structure.composition.reduced_formula
    ):
        raise ConfigError(
            f"polymorph {polymorph_id!r} ({polymorph.composition.reduced_formula}) is not a "
            f"polymorph of {structure_id!r} ({structure.composition.reduced_formula})"
        )
    key = structure_key(name)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), key]))
    n = config.n_steps
    values = np.linspace(config.start, config.stop, n)
    position = np.linspace(0.0, 1.0, n)
    physics = [
        {
            "k0": _uniform(rng, config.bulk_modulus),
            "k0_prime": _uniform(rng, config.bulk_modulus_prime),
            "alpha": _uniform(rng, config.expansion),
        }
        for _ in range(2)
    ]
    centre = _uniform(rng, config.transition_at)
    width = _uniform(rng, config.transition_width)
    kind = "polymorph"
    if polymorph is None:
        kind = DISTORTIONS[int(rng.integers(len(DISTORTIONS)))]
        strain = _uniform(rng, config.distortion)
        dv = _uniform(rng, config.volume_change)
        phase_2 = distorted(structure, kind=kind, strain=strain, volume_change=dv)
        second = {"kind": "distortion", "distortion": kind, "strain": strain, "volume_change": dv}
        tol_2 = DISTORTED_MERGE_TOL
    else:
        phase_2 = polymorph
        second = {"kind": "polymorph", "id": polymorph_id}
        tol_2 = MERGE_TOL
    f2 = second_phase_fraction(position, centre=centre, width=width)
    fractions = np.stack([1.0 - f2, f2], axis=1)
    ratios = [_volume_ratios(config, values, physics[p]) for p in range(2)]
    sim = load_config(config.simulation)
    lattice = np.empty((n, 2, 6), dtype=np.float32)
    tts, ints, offsets = [], [], [0]
    for i in range(n):
        lines = []
        for p, (base, tol) in enumerate(((structure, MERGE_TOL), (phase_2, tol_2))):
            cell = scaled(base, ratios[p][i])
            lattice[i, p] = (*cell.lattice.abc, *cell.lattice.angles)
            if fractions[i, p] > 0:
                lines.append(phase_lines(cell, wavelength=sim.wavelength, merge_tolerance=tol))
            else:
                lines.append(None)
        present = [(ln, f) for ln, f in zip(lines, fractions[i], strict=True) if ln is not None]
        tt, inten = mix([ln for ln, _ in present], np.array([f for _, f in present]))
        tts.append(tt)
        ints.append(inten)
        offsets.append(offsets[-1] + tt.size)
    params = _instrument(sim, key, seed, config, rng)
    result = render(
        np.concatenate(tts),
        np.concatenate(ints),
        np.array(offsets),
        sim,
        params,
        seed=seed,
        structure_keys=key,
        views=np.arange(n),
        threads=threads,
    )
    labels = labels_from_fractions(f2)
    during = values[labels == 1]
    attrs = {
        "variable": config.variable,
        "unit": config.unit,
        "phases": [structure_id, polymorph_id or f"{structure_id} ({kind})"],
        "formula": structure.composition.reduced_formula,
        "second_phase": second,
        "physics": physics,
        "transition": {
            "centre": centre,
            "width": width,
            "interval": [float(during.min()), float(during.max())],
        },
        "instrument": {k: [float(v[0]), float(v[-1])] for k, v in params.items()},
        "config": config.to_dict(),
        "simulation": sim.to_dict(),
        "seed": int(seed),
    }
    return Series(
        name=name,
        patterns=result.patterns,
        variable=values,
        fractions=fractions.astype(np.float32),
        labels=labels,
        lattice=lattice,
        attrs=attrs,
    )
