"""Disjointness of two simulation configs (train vs invariance must share no randomised value)."""

from __future__ import annotations

from xrdsim.errors import ConfigOverlapError
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.ops import OPS


def _abs_intervals(iv: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a, b in iv:
        out.append(
            (0.0, max(-a, b)) if a <= 0.0 <= b else (min(abs(a), abs(b)), max(abs(a), abs(b)))
        )
    return out


def _intersect(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    return [
        (max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if max(x0, y0) <= min(x1, y1)
    ]


#: Common values listed in an overlap message before it says how many more there are.
MAX_LISTED = 6


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def describe_common(common: list[tuple[float, float]]) -> str:
    """Shared values for humans: points as numbers, ranges as ``[lo, hi]``, e.g. ``0, 1, 2``."""
    parts = sorted(set(common))
    shown = [_num(a) if a == b else f"[{_num(a)}, {_num(b)}]" for a, b in parts[:MAX_LISTED]]
    more = len(parts) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def check_disjoint(a: SimulationConfig, b: SimulationConfig) -> None:
    """Refuse two configs whose randomised parameters can take a common value.

    Rule: for every op enabled in both configs and every parameter, the two sets of
    possible values must not intersect (closed intervals, so touching ranges overlap).
    A parameter fixed in both configs is allowed even when the values are equal: it is
    the same instrument setting, not a randomised variation the invariance split
    tests. A fixed value inside the other config's random range is an overlap. For
    ``symmetric`` parameters (noise amplitudes entering as U(−|a|, |a|)) the sets of |a|
    are compared. Binning mode, doublet anode and the other settings are not compared.

    Raises:
        ConfigOverlapError: listing every overlapping parameter with both value sets.
    """
    overlaps: list[tuple[str, str]] = []
    for oa, ob, spec in zip(a.ops, b.ops, OPS, strict=True):
        if not (oa.enabled and ob.enabled):
            continue
        for p in spec.params:
            da, db = oa.params[p.name], ob.params[p.name]
            if not (da.randomised or db.randomised):
                continue
            ia, ib = da.intervals(), db.intervals()
            if p.symmetric:
                ia, ib = _abs_intervals(ia), _abs_intervals(ib)
            common = _intersect(ia, ib)
            if common:
                what = "|values|" if p.symmetric else "values"
                overlaps.append(
                    (
                        f"{spec.name}.{p.name}",
                        f"{da.to_value()!r} vs {db.to_value()!r} share {what} "
                        f"{describe_common(common)}",
                    )
                )
    if overlaps:
        raise ConfigOverlapError(overlaps)
