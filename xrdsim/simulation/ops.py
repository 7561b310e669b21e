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
from xrdsim.simulation.orientation import DEFAULT_DIRECTIONS
from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA

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


def _check_crop(op: str, low: str = "low", high: str = "high") -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        if p[low].bounds()[1] >= p[high].bounds()[0]:
            raise ConfigError(
                f"{op}.{low} can reach {p[low].bounds()[1]} and {op}.{high} can be as low as "
                f"{p[high].bounds()[0]}: every {low} must lie below every {high}; "
                "shrink the ranges"
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
    if s["positions"] not in ("exact", "binned"):
        raise ConfigError(
            f"profile.positions: got {s['positions']!r}, allowed 'exact' (each line at its "
            "true 2θ) or 'binned' (lines moved to their bin centre, das2025)"
        )
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
    _check_per_hump("impurity", ("intensity",))(p, s)


def _check_radius(op: str) -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        r = _number(f"{op}.radius", s["radius"])
        if not 50.0 <= r <= 1000.0:
            raise ConfigError(
                f"{op}.radius (goniometer radius, mm) must lie in [50, 1000], got {r}"
            )

    return check


def _check_tube_lines(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["anode"] not in KBETA:
        raise ConfigError(
            f"tube_lines.anode: got {s['anode']!r}, allowed {sorted(KBETA)}"
            + did_you_mean(str(s["anode"]), KBETA)
        )


def _check_per_hump(op: str, names: tuple[str, ...]) -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        for n in names:
            if p[n].kind not in ("fixed", "uniform", "loguniform", "bands", "logbands"):
                raise ConfigError(
                    f"{op}.{n} is drawn per {op} item: use a number, uniform, loguniform, "
                    f"bands or logbands, got {p[n].to_value()!r}"
                )

    return check


def _check_directions(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    d = s["directions"]
    ok = isinstance(d, (list, tuple)) and len(d) > 0 and all(
        isinstance(v, (list, tuple)) and len(v) == 3
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v) and any(v)
        for v in d
    )  # fmt: skip
    if not ok:
        raise ConfigError(
            f"preferred_orientation.directions: got {d!r}; need a list of integer [h, k, l] "
            "plate normals, e.g. [[0, 0, 1], [1, 1, 1]]"
        )


def _check_mixture(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    n, f = p["phases"].bounds()[1], p["fraction"].bounds()[1]
    if f * (n + 1) >= 1.0:
        raise ConfigError(
            f"mixture: {int(n)} extra phases of weight fraction up to {f} can outweigh the "
            f"labelled phase (1 − {int(n)}·{f} ≤ {f}); keep fraction below {1 / (n + 1):.3g}"
        )


def _crop(meaning: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("low", 0.0, 180.0, f"{meaning} lower edge, degrees 2θ"),
        ParamSpec("high", 0.0, 180.0, f"{meaning} upper edge, degrees 2θ"),
    )


#: Every op in execution order (das2025 Table 1, with the extra ops slotted in where they act).
OPS: tuple[OpSpec, ...] = (
    OpSpec(
        "mixture",
        (
            ParamSpec("phases", 0.0, 2.0, "extra phases from other structures", integer=True),
            ParamSpec("fraction", 0.0, 0.5, "weight fraction of each extra phase"),
        ),
        check=_check_mixture,
    ),
    OpSpec(
        "lattice_strain",
        (ParamSpec("amplitude", 0.0, 0.1, "ε, relative change of the lattice parameters"),),
    ),
    OpSpec("zero_shift", (ParamSpec("delta", -5.0, 5.0, "2θ offset, degrees"),)),
    OpSpec(
        "displacement",
        (ParamSpec("shift", -2.0, 2.0, "sample height displacement s, mm"),),
        {"radius": 240.0},
        _check_radius("displacement"),
    ),
    OpSpec("position_noise", (ParamSpec("amplitude", -1.0, 1.0, "a, degrees", symmetric=True),)),
    OpSpec("peak_crop", _crop("peak window"), check=_check_crop("peak_crop")),
    OpSpec("intensity_noise", (ParamSpec("amplitude", -1.0, 1.0, "ℓ, fraction", symmetric=True),)),
    OpSpec(
        "preferred_orientation",
        (ParamSpec("r", 0.1, 10.0, "March–Dollase ratio r (< 1 plates, > 1 needles)"),),
        {"directions": [list(d) for d in DEFAULT_DIRECTIONS]},
        _check_directions,
    ),
    OpSpec(
        "doublet", (ParamSpec("ratio", 0.0, 1.0, "I(Kα2)/I(Kα1)"),), {"anode": "Cu"}, _check_doublet
    ),
    OpSpec(
        "tube_lines",
        (
            ParamSpec("kbeta", 0.0, 0.5, "I(Kβ1)/I(Kα), unfiltered or leaky filter"),
            ParamSpec("tungsten", 0.0, 0.2, "I(W Lα1)/I(Kα), contaminated anode"),
        ),
        {"anode": "Cu"},
        _check_tube_lines,
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
        {"latin_hypercube": True, "tail_cutoff": 0.005, "positions": "exact"},
        _check_profile,
    ),
    OpSpec(
        "sample_broadening",
        (
            ParamSpec("size", 0.5, 1e5, "crystallite size, nm"),
            ParamSpec("strain", 0.0, 0.1, "microstrain ε"),
        ),
    ),
    OpSpec(
        "transparency",
        (ParamSpec("mu", 1.0, 1e5, "linear absorption coefficient μ of the sample, 1/cm"),),
        {"radius": 240.0},
        _check_radius("transparency"),
    ),
    OpSpec("background", tuple(ParamSpec(f"c{k}", 0.0, 10.0, "Bernstein level") for k in range(4))),
    OpSpec(
        "amorphous",
        (
            ParamSpec("count", 0.0, 10.0, "number of amorphous humps", integer=True),
            ParamSpec("height", 0.0, 10.0, "hump height, fraction of the maximum", per_peak=True),
            ParamSpec("center", 0.0, 180.0, "hump centre, degrees 2θ", per_peak=True),
            ParamSpec("fwhm", 0.5, 180.0, "hump FWHM, degrees 2θ", per_peak=True),
            ParamSpec("eta", 0.0, 1.0, "hump Lorentzian fraction", per_peak=True),
        ),
        check=_check_per_hump("amorphous", ("height", "center", "fwhm", "eta")),
    ),
    OpSpec(
        "air_scatter",
        (
            ParamSpec("amplitude", 0.0, 100.0, "level at 2θ = 0, fraction of the maximum"),
            ParamSpec("decay", 0.1, 90.0, "e-folding length, degrees 2θ"),
        ),
    ),
    OpSpec("poisson_noise", (ParamSpec("counts", 1.0, 1e12, "counts at the maximum"),)),
    OpSpec("counting_noise", (ParamSpec("counts", 1.0, 1e12, "counts at the maximum"),)),
    OpSpec(
        "background_noise",
        (
            ParamSpec("amplitude", 0.0, 1.0, "n, fraction of the maximum"),
            ParamSpec("dilation", 0.0, 12000.0, "knot spacing d, bins"),
        ),
    ),
    OpSpec("scan_range", (
        ParamSpec("start", 0.0, 180.0, "first 2θ of the scan, degrees"),
        ParamSpec("end", 0.0, 180.0, "last 2θ of the scan, degrees"),
    ), check=_check_crop("scan_range", "start", "end")),
    OpSpec("renormalize", ()),
    OpSpec("final_crop", _crop("pattern window"), check=_check_crop("final_crop")),
)


OP_BY_NAME = {op.name: op for op in OPS}
#: Ops added after the first release. A per-pattern parameter's slot is the counter of
#: its random draw, so these take the last slots: a config without them draws exactly the
#: numbers it drew before they existed.
LATE_OPS = ("lattice_strain",)


def op_spec(name: str) -> OpSpec:
    return OP_BY_NAME[name]


def param_slots() -> tuple[str, ...]:
    """Dotted names of every per-pattern parameter of every op: op order, :data:`LATE_OPS` last."""
    order = [op for op in OPS if op.name not in LATE_OPS] + [OP_BY_NAME[n] for n in LATE_OPS]
    return tuple(f"{op.name}.{p.name}" for op in order for p in op.params if not p.per_peak)


def per_item_slots() -> tuple[str, ...]:
    """Dotted names of every parameter drawn per peak / per hump inside the kernel."""
    return tuple(f"{op.name}.{p.name}" for op in OPS for p in op.params if p.per_peak)
