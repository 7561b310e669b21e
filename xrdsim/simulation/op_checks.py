"""Cross-parameter checks of the ops, run when a config is loaded (``OpSpec.check``).

Each check takes the op's parameter distributions and settings and raises
:class:`~xrdsim.errors.ConfigError` naming the op, the values received and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, did_you_mean
from xrdsim.grid import TWO_THETA_MAX
from xrdsim.simulation import caglioti
from xrdsim.simulation.distributions import Distribution, _number
from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA


def check_crop(op: str, low: str = "low", high: str = "high") -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        if p[low].bounds()[1] >= TWO_THETA_MAX:
            raise ConfigError(
                f"{op}.{low} can reach {p[low].bounds()[1]}°, at or past the end of the "
                f"model grid ({TWO_THETA_MAX:g}° 2θ): such patterns would be all zero; keep "
                f"{op}.{low} below {TWO_THETA_MAX:g}"
            )
        if p[low].bounds()[1] >= p[high].bounds()[0]:
            raise ConfigError(
                f"{op}.{low} can reach {p[low].bounds()[1]} and {op}.{high} can be as low as "
                f"{p[high].bounds()[0]}: every {low} must lie below every {high}; "
                "shrink the ranges"
            )

    return check


#: tanθ and 1/cos²θ over the grid (2θ up to 120°), for the FWHM² > 0 check.
_THETA = np.deg2rad(np.linspace(0.0, 60.0, 601))


def check_profile(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    # FWHM² is linear in (U, V, W, P): its minimum over the box is at a corner.
    t, c = np.tan(_THETA), np.cos(_THETA)
    for u in p["U"].bounds():
        for v in p["V"].bounds():
            for w in p["W"].bounds():
                for q in p["P"].bounds():
                    f2 = caglioti.fwhm2(u, v, w, q, t, c)
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


def check_doublet(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["anode"] not in KALPHA_DOUBLETS:
        raise ConfigError(
            f"doublet.anode: got {s['anode']!r}, allowed {sorted(KALPHA_DOUBLETS)}"
            + did_you_mean(str(s["anode"]), KALPHA_DOUBLETS)
        )


def check_binning(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["mode"] not in ("sum", "mean"):
        raise ConfigError(f"binning.mode: got {s['mode']!r}, allowed 'sum' or 'mean'")


def check_impurity(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    r = s["two_theta_range"]
    if (
        not isinstance(r, (list, tuple))
        or len(r) != 2
        or not 0.0 <= _number("impurity.two_theta_range", r[0]) < _number("", r[1]) <= 120.0
    ):
        raise ConfigError(
            f"impurity.two_theta_range: got {r!r}, need [lo, hi] with 0 <= lo < hi <= 120"
        )
    check_per_hump("impurity", ("intensity",))(p, s)


def check_radius(op: str) -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        r = _number(f"{op}.radius", s["radius"])
        if not 50.0 <= r <= 1000.0:
            raise ConfigError(
                f"{op}.radius (goniometer radius, mm) must lie in [50, 1000], got {r}"
            )

    return check


def check_tube_lines(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    if s["anode"] not in KBETA:
        raise ConfigError(
            f"tube_lines.anode: got {s['anode']!r}, allowed {sorted(KBETA)}"
            + did_you_mean(str(s["anode"]), KBETA)
        )


def check_per_hump(op: str, names: tuple[str, ...]) -> Callable[[dict, dict], None]:
    def check(p: dict[str, Distribution], s: dict[str, Any]) -> None:
        for n in names:
            if p[n].kind not in ("fixed", "uniform", "loguniform", "bands", "logbands"):
                raise ConfigError(
                    f"{op}.{n} is drawn per {op} item: use a number, uniform, loguniform, "
                    f"bands or logbands, got {p[n].to_value()!r}"
                )

    return check


def check_directions(p: dict[str, Distribution], s: dict[str, Any]) -> None:
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


def check_mixture(p: dict[str, Distribution], s: dict[str, Any]) -> None:
    n, f = p["phases"].bounds()[1], p["fraction"].bounds()[1]
    if f * (n + 1) >= 1.0:
        raise ConfigError(
            f"mixture: {int(n)} extra phases of weight fraction up to {f} can outweigh the "
            f"labelled phase (1 − {int(n)}·{f} ≤ {f}); keep fraction below {1 / (n + 1):.3g}"
        )
