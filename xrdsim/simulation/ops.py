"""The op catalogue: every simulation op in execution order, with its parameters and checks.

Each :class:`OpSpec` names an op of :mod:`xrdsim.simulation.ops_kernel`, the physical
range of each of its parameters (:class:`ParamSpec`) and an optional cross-parameter check
run when a config is loaded. ``docs/simulation.md`` describes every op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, did_you_mean
from xrdsim.simulation.distributions import Distribution, _number
from xrdsim.wavelengths import KALPHA_DOUBLETS

_INF = float("inf")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an op: allowed closed range, integer-ness, sampling scope.

    ``per_peak`` parameters are drawn once per peak (never recorded per pattern);
    ``symmetric`` parameters enter as ``U(−|a|, |a|)``, so a and −a are the same setting
    and disjointness is checked on |a|.
    """

    name: str
    lo: float = -_INF
    hi: float = _INF
    meaning: str = ""
    integer: bool = False
    per_peak: bool = False
    symmetric: bool = False


@dataclass(frozen=True)
class OpSpec:
    """An op: its parameters, its non-random settings (with defaults) and a check."""

    name: str
    params: tuple[ParamSpec, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Distribution], dict[str, Any]], None] | None = None
    always_on: bool = False


def _check_crop(op: str) -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        if p["low"].bounds()[1] >= p["high"].bounds()[0]:
            raise ConfigError(
                f"{op}.low can reach {p['low'].bounds()[1]} and {op}.high can be as low as "
                f"{p['high'].bounds()[0]}: every low must lie below every high; shrink the ranges"
            )

    return check


#: tanθ and 1/cos²θ over the grid (2θ up to 120°), for the FWHM² > 0 check.
_THETA = np.deg2rad(np.linspace(0.0, 60.0, 601))


def _check_profile(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    # FWHM² is linear in (U, V, W, P): its minimum over the box is at a corner.
    t, c2 = np.tan(_THETA), np.cos(_THETA) ** 2
    for u in p["U"].bounds():
        for v in p["V"].bounds():
            for w in p["W"].bounds():
                for q in p["P"].bounds():
                    f2 = u * t * t + v * t + w + q / c2
                    if f2.min() <= 0.0:
                        i = int(f2.argmin())
                        raise ConfigError(
                            f"profile: FWHM² = U·tan²θ + V·tanθ + W + P/cos²θ = {f2[i]:.3g} ≤ 0 "
                            f"at 2θ = {2 * np.rad2deg(_THETA[i]):.1f}° for (U, V, W, P) = "
                            f"({u}, {v}, {w}, {q}); widths must be positive over 0–120°: "
                            "raise W or narrow the negative V range"
                        )
    cut = s["tail_cutoff"]
    if not 1e-4 <= cut <= 0.1:
        raise ConfigError(f"profile.tail_cutoff must lie in [1e-4, 0.1], got {cut}")
    if not isinstance(s["latin_hypercube"], bool):
        raise ConfigError(
            f"profile.latin_hypercube must be true/false, got {s['latin_hypercube']!r}"
        )


def _check_doublet(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["anode"] not in KALPHA_DOUBLETS:
        raise ConfigError(
            f"doublet.anode: got {s['anode']!r}, allowed {sorted(KALPHA_DOUBLETS)}"
            + did_you_mean(str(s["anode"]), KALPHA_DOUBLETS)
        )


def _check_binning(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["mode"] not in ("sum", "mean"):
        raise ConfigError(f"binning.mode: got {s['mode']!r}, allowed 'sum' or 'mean'")


def _check_impurity(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    r = s["two_theta_range"]
    if (
        not isinstance(r, (list, tuple))
        or len(r) != 2
        or not 0.0 <= _number("impurity.two_theta_range", r[0]) < _number("", r[1]) <= 120.0
    ):
        raise ConfigError(
            f"impurity.two_theta_range: got {r!r}, need [lo, hi] with 0 <= lo < hi <= 120"
        )
    if p["intensity"].kind not in ("fixed", "uniform"):
        raise ConfigError(
            "impurity.intensity is drawn per peak: use a number or {uniform: [lo, hi]}"
        )


def _crop(meaning: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("low", 0.0, 180.0, f"{meaning} lower edge, degrees 2θ"),
        ParamSpec("high", 0.0, 180.0, f"{meaning} upper edge, degrees 2θ"),
    )


#: Every op in execution order (das2025 Table 1, with the extra ops slotted in where they act).
OPS: tuple[OpSpec, ...] = (
    OpSpec("zero_shift", (ParamSpec("delta", -5.0, 5.0, "2θ offset, degrees"),)),
    OpSpec("position_noise", (ParamSpec("amplitude", -1.0, 1.0, "a, degrees", symmetric=True),)),
    OpSpec("peak_crop", _crop("peak window"), check=_check_crop("peak_crop")),
    OpSpec("intensity_noise", (ParamSpec("amplitude", -1.0, 1.0, "ℓ, fraction", symmetric=True),)),
    OpSpec(
        "doublet", (ParamSpec("ratio", 0.0, 1.0, "I(Kα2)/I(Kα1)"),), {"anode": "Cu"}, _check_doublet
    ),
    OpSpec("binning", (), {"mode": "sum"}, _check_binning, always_on=True),
    OpSpec(
        "impurity",
        (
            ParamSpec("count", 0.0, 1000.0, "number of impurity peaks", integer=True),
            ParamSpec("intensity", 0.0, 1.0, "fraction of the binned maximum", per_peak=True),
        ),
        {"two_theta_range": [5.0, 115.0]},
        _check_impurity,
    ),
    OpSpec(
        "profile",
        (
            # |U|, |V|, |W|, |P| ≤ 10 deg² keeps every FWHM on 0–120° below ≈ 10° 2θ
            ParamSpec("U", -10.0, 10.0, "Caglioti U, deg²"),
            ParamSpec("V", -10.0, 10.0, "Caglioti V, deg²"),
            ParamSpec("W", -10.0, 10.0, "Caglioti W, deg²"),
            ParamSpec("P", -10.0, 10.0, "Caglioti P (Scherrer-like), deg²"),
            ParamSpec("eta", 0.0, 1.0, "Lorentzian fraction η"),
            ParamSpec("rho", -1.0, 1.0, "asymmetry ρ"),
        ),
        {"latin_hypercube": True, "tail_cutoff": 0.005},
        _check_profile,
    ),
    OpSpec(
        "sample_broadening",
        (
            ParamSpec("size", 0.5, 1e5, "crystallite size, nm"),
            ParamSpec("strain", 0.0, 0.1, "microstrain ε"),
        ),
    ),
    OpSpec("background", tuple(ParamSpec(f"c{k}", 0.0, 10.0, "Bernstein level") for k in range(4))),
    OpSpec("counting_noise", (ParamSpec("counts", 1.0, 1e12, "counts at the maximum"),)),
    OpSpec(
        "background_noise",
        (
            ParamSpec("amplitude", 0.0, 1.0, "n, fraction of the maximum"),
            ParamSpec("dilation", 0.0, 12000.0, "knot spacing d, bins"),
        ),
    ),
    OpSpec("renormalize", ()),
    OpSpec("final_crop", _crop("pattern window"), check=_check_crop("final_crop")),
)


OP_BY_NAME = {op.name: op for op in OPS}


def op_spec(name: str) -> OpSpec:
    return OP_BY_NAME[name]


def param_slots() -> tuple[str, ...]:
    """Dotted names of every per-pattern parameter of every op, in op order."""
    return tuple(f"{op.name}.{p.name}" for op in OPS for p in op.params if not p.per_peak)
