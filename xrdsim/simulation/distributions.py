"""Parameter distributions of simulation configs, as written in a config file.

Every parameter of an op (see :mod:`xrdsim.simulation.config`) is a :class:`Distribution`,
written in a file as

- a number (``0.5``) or ``{fixed: 0.5}`` — not randomised;
- ``{uniform: [lo, hi]}`` — continuous uniform, ``lo < hi``;
- ``{plusminus: [lo, hi]}`` — ``±U(lo, hi)`` with a random sign, ``0 ≤ lo < hi``;
- ``{choice: [a, b, ...]}`` — one of a finite set of distinct values, equally likely;
- ``{randint: [lo, hi]}`` — integer uniform on ``lo…hi`` inclusive;
- ``{loguniform: [lo, hi]}`` — uniform in log, ``0 < lo < hi`` (counts, widths, sizes);
- ``{bands: [[a, b], [c, d], ...]}`` — uniform on a union of separated intervals
  (``a < b < c < d``, each picked with probability ∝ its length);
- ``{logbands: [[a, b], ...]}`` — the same in log (``0 < a``).

Bands let two configs share one hull while sharing no value: train takes every other
band of a range, invariance the bands in between (see ``docs/simulation.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xrdsim.errors import ConfigError, brief

KINDS = ("fixed", "uniform", "plusminus", "choice", "randint", "loguniform", "bands", "logbands")
#: Kinds whose values are a flat list of band edges a, b, c, d, ...
BAND_KINDS = ("bands", "logbands")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {brief(value)}")
    return float(value)


@dataclass(frozen=True)
class Distribution:
    """Distribution of one parameter. ``values`` holds (v,), (lo, hi) or the choices."""

    kind: str
    values: tuple[float, ...]  # band kinds: flat edges (a, b, c, d, ...)

    @property
    def randomised(self) -> bool:
        return self.kind != "fixed"

    def intervals(self) -> list[tuple[float, float]]:
        """Support as closed intervals (points are (v, v))."""
        v = self.values
        if self.kind in ("fixed", "choice"):
            return [(x, x) for x in v]
        if self.kind == "plusminus":
            return [(-v[1], -v[0]), (v[0], v[1])]
        if self.kind == "randint":
            return [(float(i), float(i)) for i in range(int(v[0]), int(v[1]) + 1)]
        if self.kind in BAND_KINDS:
            return [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
        return [(v[0], v[1])]

    def bounds(self) -> tuple[float, float]:
        if self.kind == "randint":  # without enumerating 0…10¹⁵ first
            return self.values[0], self.values[1]
        iv = self.intervals()
        return min(a for a, _ in iv), max(b for _, b in iv)

    def to_value(self) -> Any:
        if self.kind == "fixed":
            return self.values[0]
        if self.kind == "randint":
            return {"randint": [int(x) for x in self.values]}
        if self.kind in BAND_KINDS:
            return {self.kind: [list(iv) for iv in self.intervals()]}
        return {self.kind: list(self.values)}

    @classmethod
    def parse(cls, name: str, raw: Any, *, integer: bool = False) -> Distribution:
        """Read a file value (see module docstring). Raises ConfigError naming ``name``."""
        if isinstance(raw, Distribution):
            return raw
        if not isinstance(raw, dict):
            dist = cls("fixed", (_number(name, raw),))
        else:
            if len(raw) != 1 or next(iter(raw)) not in KINDS:
                raise ConfigError(
                    f"{name}: got {brief(raw)}; write a number or one of "
                    + ", ".join(f"{{{k}: ...}}" for k in KINDS)
                )
            kind, arg = next(iter(raw.items()))
            if kind == "fixed":
                dist = cls("fixed", (_number(name, arg),))
            elif kind in BAND_KINDS:
                dist = cls(kind, _parse_bands(name, kind, arg))
            else:
                if not isinstance(arg, (list, tuple)) or not arg:
                    raise ConfigError(f"{name}: {kind} needs a list, got {brief(arg)}")
                vals = tuple(_number(name, x) for x in arg)
                if kind == "choice":
                    if len(set(vals)) != len(vals):
                        raise ConfigError(
                            f"{name}: choice values must be distinct, got {brief(vals)}")
                elif len(vals) != 2 or not vals[0] < vals[1]:
                    raise ConfigError(
                        f"{name}: {kind} needs [lo, hi] with lo < hi, got {brief(list(vals))}"
                        " (use a plain number for a fixed value)"
                    )
                if kind == "loguniform" and vals[0] <= 0:
                    raise ConfigError(f"{name}: loguniform needs 0 < lo < hi, got {list(vals)}")
                if kind == "plusminus" and vals[0] < 0:
                    raise ConfigError(f"{name}: plusminus needs 0 <= lo < hi, got {list(vals)}")
                if kind == "randint" and not all(float(x).is_integer() for x in vals):
                    raise ConfigError(f"{name}: randint bounds must be integers, got {list(vals)}")
                dist = cls(kind, vals)
        continuous = dist.kind in ("uniform", "plusminus", "loguniform", *BAND_KINDS)
        if integer and (continuous or not all(float(x).is_integer() for x in dist.values)):
            raise ConfigError(
                f"{name}: is an integer parameter, got {dist.to_value()!r}; "
                "use an integer, {randint: [lo, hi]} or a choice of integers"
            )
        return dist


def _parse_bands(name: str, kind: str, arg: Any) -> tuple[float, ...]:
    """Flat edges of ``[[a, b], [c, d], ...]``: ascending, separated (a < b < c < d)."""
    bands = arg if isinstance(arg, (list, tuple)) else None
    if not bands or not all(isinstance(b, (list, tuple)) and len(b) == 2 for b in bands):
        raise ConfigError(f"{name}: {kind} needs a list of [lo, hi] pairs, got {arg!r}")
    edges = tuple(_number(name, x) for b in bands for x in b)
    if any(not edges[i] < edges[i + 1] for i in range(len(edges) - 1)):
        raise ConfigError(
            f"{name}: {kind} needs ascending, separated bands [[a, b], [c, d], ...] with "
            f"a < b < c < d, got {[list(b) for b in bands]}"
        )
    if kind == "logbands" and edges[0] <= 0:
        raise ConfigError(f"{name}: logbands needs positive edges, got {edges[0]}")
    return edges
