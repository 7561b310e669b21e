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
                        f"{da.to_value()!r} vs {db.to_value()!r} share {what} {common[0]}",
                    )
                )
    if overlaps:
        raise ConfigOverlapError(overlaps)
