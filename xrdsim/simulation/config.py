"""Simulation configs: which ops run, and the distribution of every parameter.

A config is data (YAML / TOML / JSON, or a preset name) turned into frozen, validated
objects. Each op of :mod:`xrdsim.simulation.profile` is listed in :data:`OPS` with its parameters;
every parameter is a :class:`Distribution`, written in a file as

- a number (``0.5``) or ``{fixed: 0.5}`` — not randomised;
- ``{uniform: [lo, hi]}`` — continuous uniform, ``lo < hi``;
- ``{plusminus: [lo, hi]}`` — ``±U(lo, hi)`` with a random sign, ``0 ≤ lo < hi``;
- ``{choice: [a, b, ...]}`` — one of a finite set of distinct values, equally likely;
- ``{randint: [lo, hi]}`` — integer uniform on ``lo…hi`` inclusive.

Ops run in the fixed Table-1 order of :data:`OPS` whatever their order in the file; an
op missing from the file is off. ``docs/simulation.md`` describes every op.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import tomllib
import yaml

from xrdsim.errors import ConfigError, ConfigOverlapError
from xrdsim.simulation.distributions import KINDS as KINDS
from xrdsim.simulation.distributions import Distribution, _number
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, KALPHA_DOUBLETS, resolve_wavelength

PRESETS = ("das2025", "train", "invariance")
_INF = math.inf


def _closest(word: str, choices: Any) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


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
            + _closest(str(s["anode"]), KALPHA_DOUBLETS)
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
            ParamSpec("U", meaning="Caglioti U, deg²"),
            ParamSpec("V", meaning="Caglioti V, deg²"),
            ParamSpec("W", meaning="Caglioti W, deg²"),
            ParamSpec("P", meaning="Caglioti P (Scherrer-like), deg²"),
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
_OP_BY_NAME = {op.name: op for op in OPS}


def op_spec(name: str) -> OpSpec:
    return _OP_BY_NAME[name]


def param_slots() -> tuple[str, ...]:
    """Dotted names of every per-pattern parameter of every op, in op order."""
    return tuple(f"{op.name}.{p.name}" for op in OPS for p in op.params if not p.per_peak)


@dataclass(frozen=True)
class OpConfig:
    """One op of a config: on/off, distributions of its parameters, its settings."""

    name: str
    enabled: bool
    params: dict[str, Distribution]
    settings: dict[str, Any]


@dataclass(frozen=True)
class SimulationConfig:
    """A validated simulation config (build with :func:`load_config` or ``from_dict``).

    Attributes:
        ops: one :class:`OpConfig` per entry of :data:`OPS`, in execution order.
        wavelength: wavelength (Å) at which the input peak lists were computed.
        name: free label (the preset name for presets).
    """

    ops: tuple[OpConfig, ...]
    wavelength: float = DEFAULT_WAVELENGTH
    name: str = ""

    def op(self, name: str) -> OpConfig:
        return self.ops[[o.name for o in OPS].index(name)]

    def enabled(self, name: str) -> bool:
        return self.op(name).enabled

    def param_names(self) -> tuple[str, ...]:
        """Flat dotted names of every per-pattern parameter of the enabled ops."""
        return tuple(
            f"{o.name}.{p.name}"
            for o, spec in zip(self.ops, OPS, strict=True)
            if o.enabled
            for p in spec.params
            if not p.per_peak
        )

    def to_dict(self) -> dict[str, Any]:
        ops: dict[str, Any] = {}
        for o, spec in zip(self.ops, OPS, strict=True):
            if not o.enabled and not o.params and o.settings == spec.settings:
                continue
            entry: dict[str, Any] = {} if o.enabled else {"enabled": False}
            entry.update(
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in o.settings.items()}
            )
            entry.update({k: d.to_value() for k, d in o.params.items()})
            ops[o.name] = entry
        return {"name": self.name, "wavelength": self.wavelength, "ops": ops}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"name", "wavelength", "ops", "description"}
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                f"unknown top-level key {key!r}; allowed: name, description, wavelength, ops"
                + _closest(key, ["name", "description", "wavelength", "ops"])
            )
        raw_ops = data.get("ops", {}) or {}
        if not isinstance(raw_ops, dict):
            raise ConfigError(f"'ops' must map op names to settings, got {raw_ops!r}")
        for name in raw_ops:
            if name not in _OP_BY_NAME:
                raise ConfigError(
                    f"unknown op {name!r}; allowed: {', '.join(_OP_BY_NAME)}"
                    + _closest(name, _OP_BY_NAME)
                )
        ops = {spec.name: _parse_op(spec, raw_ops.get(spec.name)) for spec in OPS}
        wavelength = resolve_wavelength(data.get("wavelength", DEFAULT_WAVELENGTH))
        if ops["sample_broadening"].enabled and not ops["profile"].enabled:
            raise ConfigError("sample_broadening widens the profile: enable 'profile' too")
        anode = ops["doublet"].settings["anode"]
        if ops["doublet"].enabled and abs(KALPHA_DOUBLETS[anode][0] / wavelength - 1) > 0.01:
            raise ConfigError(
                f"doublet.anode {anode!r} (Kα1 = {KALPHA_DOUBLETS[anode][0]} Å) does not match "
                f"the peak lists' wavelength {wavelength} Å; set the anode of that wavelength"
            )
        return cls(ops=tuple(ops.values()), wavelength=wavelength, name=str(data.get("name", "")))


def _parse_op(spec: OpSpec, raw: Any) -> OpConfig:
    if raw is None:
        return OpConfig(spec.name, spec.always_on, {}, dict(spec.settings))
    if raw is True or raw is False:
        raw = {"enabled": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"op {spec.name!r}: expected a mapping of parameters, got {raw!r}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{spec.name}.enabled must be true/false, got {enabled!r}")
    if spec.always_on and not enabled:
        raise ConfigError(f"{spec.name} cannot be switched off (every pattern is binned)")
    names = {p.name: p for p in spec.params}
    allowed = ["enabled", *spec.settings, *names]
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"unknown parameter {spec.name}.{key}; allowed: {', '.join(allowed)}"
                + _closest(key, allowed)
            )
    settings = {k: raw.get(k, v) for k, v in spec.settings.items()}
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()}
    params: dict[str, Distribution] = {}
    for p in spec.params:
        full = f"{spec.name}.{p.name}"
        if p.name not in raw:
            if enabled:
                raise ConfigError(
                    f"{full} ({p.meaning}) is missing; give a number or a distribution "
                    f"such as {{uniform: [lo, hi]}}"
                )
            continue
        dist = Distribution.parse(full, raw[p.name], integer=p.integer)
        lo, hi = dist.bounds()
        if lo < p.lo or hi > p.hi:
            raise ConfigError(
                f"{full} ({p.meaning}): got {dist.to_value()!r}, allowed values lie in "
                f"[{p.lo}, {p.hi}]; values outside are refused, not clamped"
            )
        params[p.name] = dist
    if enabled and spec.check is not None:
        spec.check(params, settings)
    return OpConfig(spec.name, enabled, params, settings)


def _read_file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:] or 'YAML'}: {exc}") from None


def load_config(source: str | Path | dict[str, Any] | SimulationConfig) -> SimulationConfig:
    """Load a config from a preset name, a YAML/TOML/JSON file, or a mapping.

    Args:
        source: ``"das2025"``, ``"train"``, ``"invariance"``, a path (``.yaml``/``.yml``,
            ``.toml``, ``.json``), a dict in the same layout, or a config (returned as is).

    Raises:
        ConfigError: unknown preset / file, unknown op or parameter (with the closest
            name), out-of-range or inverted values, wrong types.
    """
    if isinstance(source, SimulationConfig):
        return source
    if isinstance(source, dict):
        return SimulationConfig.from_dict(source)
    text = str(source)
    if text in PRESETS:
        data = yaml.safe_load(
            resources.files("xrdsim.simulation.presets").joinpath(f"{text}.yaml").read_text()
        )
        return SimulationConfig.from_dict(data)
    path = Path(text)
    if not path.is_file():
        raise ConfigError(
            f"config {text!r} is neither a preset ({', '.join(PRESETS)}) nor an existing file"
            + _closest(text, PRESETS)
        )
    return SimulationConfig.from_dict(_read_file(path))


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
