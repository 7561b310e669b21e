"""Simulation configs: which ops run, and the distribution of every parameter.

A config is data (YAML / TOML / JSON, or a preset name) turned into frozen, validated
objects. Every op is listed in the catalogue :data:`xrdsim.simulation.ops.OPS` with its
parameters; every parameter is a :class:`Distribution`, written in a file as

- a number (``0.5``) or ``{fixed: 0.5}`` — not randomised;
- ``{uniform: [lo, hi]}`` — continuous uniform, ``lo < hi``;
- ``{plusminus: [lo, hi]}`` — ``±U(lo, hi)`` with a random sign, ``0 ≤ lo < hi``;
- ``{choice: [a, b, ...]}`` — one of a finite set of distinct values, equally likely;
- ``{randint: [lo, hi]}`` — integer uniform on ``lo…hi`` inclusive;
- ``{loguniform: [lo, hi]}``, ``{bands: [[a, b], ...]}``, ``{logbands: [[a, b], ...]}``
  (see :mod:`xrdsim.simulation.distributions`).

Ops run in the fixed Table-1 order of :data:`OPS` whatever their order in the file; an
op missing from the file is off. ``docs/simulation.md`` describes every op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from xrdsim.config_files import read_config_file
from xrdsim.errors import ConfigError, brief, did_you_mean
from xrdsim.simulation.distributions import Distribution
from xrdsim.simulation.ops import OP_BY_NAME, OPS, OpSpec
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, KALPHA_DOUBLETS, resolve_wavelength

PRESETS = ("das2025", "train", "invariance", "extrapolation", "series")


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
            key = str(sorted(unknown, key=str)[0])
            raise ConfigError(
                f"unknown top-level key {key[:40]!r}; allowed: name, description, "
                "wavelength, ops" + did_you_mean(key, ["name", "description", "wavelength", "ops"])
            )
        raw_ops = data.get("ops", {}) or {}
        if not isinstance(raw_ops, dict):
            raise ConfigError(f"'ops' must map op names to settings, got {brief(raw_ops)}")
        for name in raw_ops:
            if not isinstance(name, str) or name not in OP_BY_NAME:
                name = brief(name) if not isinstance(name, str) else name
                raise ConfigError(
                    f"unknown op {name!r}; allowed: {', '.join(OP_BY_NAME)}"
                    + did_you_mean(name, OP_BY_NAME)
                )
        ops = {spec.name: _parse_op(spec, raw_ops.get(spec.name)) for spec in OPS}
        wavelength = data.get("wavelength", DEFAULT_WAVELENGTH)
        if (isinstance(wavelength, bool) or not isinstance(wavelength, (int, float, str))
                or (isinstance(wavelength, str) and len(wavelength) > 40)):
            raise ConfigError(f"wavelength: expected a number of Å or a name such as 'CuKa1', "
                              f"got {brief(wavelength)}")
        wavelength = resolve_wavelength(wavelength)
        if ops["sample_broadening"].enabled and not ops["profile"].enabled:
            raise ConfigError("sample_broadening widens the profile: enable 'profile' too")
        anode = ops["doublet"].settings["anode"]
        if ops["doublet"].enabled and abs(KALPHA_DOUBLETS[anode][0] / wavelength - 1) > 0.01:
            raise ConfigError(
                f"doublet.anode {anode!r} (Kα1 = {KALPHA_DOUBLETS[anode][0]} Å) does not match "
                f"the peak lists' wavelength {wavelength} Å; set the anode of that wavelength"
            )
        _check_combinations(ops, wavelength)
        name = data.get("name", "")
        if not isinstance(name, str) or len(name) > 200:
            raise ConfigError(f"name: expected a label of at most 200 characters, got "
                              f"{brief(name)}")
        return cls(ops=tuple(ops.values()), wavelength=wavelength, name=name)


def _check_combinations(ops: dict[str, OpConfig], wavelength: float) -> None:
    """Checks that involve more than one op."""
    profile = ops["profile"]
    if (profile.enabled and profile.settings["positions"] == "exact"
            and ops["binning"].settings["mode"] == "mean"):
        raise ConfigError(
            "binning.mode 'mean' averages lines that share a bin, which only the binned "
            "profile uses: set profile.positions: binned (as das2025 does) or binning.mode: sum"
        )
    tube = ops["tube_lines"]
    if tube.enabled:
        anode = tube.settings["anode"]
        if abs(KALPHA_DOUBLETS[anode][0] / wavelength - 1) > 0.01:
            raise ConfigError(
                f"tube_lines.anode {anode!r} (Kα1 = {KALPHA_DOUBLETS[anode][0]} Å) does not "
                f"match the peak lists' wavelength {wavelength} Å; set the anode of that wavelength"
            )
    disp, transp = ops["displacement"], ops["transparency"]
    if disp.enabled and transp.enabled and disp.settings["radius"] != transp.settings["radius"]:
        raise ConfigError(
            f"displacement.radius ({disp.settings['radius']} mm) and transparency.radius "
            f"({transp.settings['radius']} mm) describe one goniometer: make them equal"
        )


def _parse_op(spec: OpSpec, raw: Any) -> OpConfig:
    if raw is None:
        return OpConfig(spec.name, spec.always_on, {}, dict(spec.settings))
    if raw is True or raw is False:
        raw = {"enabled": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"op {spec.name!r}: expected a mapping of parameters, got {brief(raw)}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{spec.name}.enabled must be true/false, got {brief(enabled)}")
    if spec.always_on and not enabled:
        raise ConfigError(f"{spec.name} cannot be switched off (every pattern is binned)")
    names = {p.name: p for p in spec.params}
    allowed = ["enabled", *spec.settings, *names]
    for key in raw:
        if not isinstance(key, str) or key not in allowed:
            key = key if isinstance(key, str) else brief(key)
            raise ConfigError(
                f"unknown parameter {spec.name}.{key[:40]}; allowed: {', '.join(allowed)}"
                + did_you_mean(key, allowed)
            )
    settings = {k: raw.get(k, v) for k, v in spec.settings.items()}
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()}
    for key, value in settings.items():
        _check_setting_type(f"{spec.name}.{key}", value, spec.settings[key])
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
                f"{full} ({p.meaning}): got {brief(dist.to_value())}, allowed values lie in "
                f"[{p.lo}, {p.hi}]; values outside are refused, not clamped"
            )
        params[p.name] = dist
    if enabled and spec.check is not None:
        spec.check(params, settings)
    return OpConfig(spec.name, enabled, params, settings)


def _finite_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check_setting_type(name: str, value: Any, default: Any) -> None:
    """A setting has the type of its default (a bool, a short string, a finite number or a
    list of as many finite numbers, or a list of such vectors), so the op's own check only
    ever sees such values."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, str):
        ok = isinstance(value, str) and len(value) <= 40
        want = "a name"
    elif isinstance(default, (int, float)):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value))
        want = "a finite number"
    elif default and isinstance(default[0], (list, tuple)):
        # a list of vectors (e.g. preferred_orientation.directions): any count up to 64
        width = len(default[0])
        ok = (isinstance(value, (list, tuple)) and 1 <= len(value) <= 64
              and all(isinstance(row, (list, tuple)) and len(row) == width
                      and all(_finite_number(v) for v in row) for row in value))
        want = f"a list of 1 to 64 lists of {width} finite numbers"
    else:
        ok = (isinstance(value, (list, tuple)) and len(value) == len(default)
              and all(_finite_number(v) for v in value))
        want = f"a list of {len(default)} finite numbers"
    if not ok:
        raise ConfigError(f"{name}: expected {want} (default {default!r}), got {brief(value)}")


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
            + did_you_mean(text, PRESETS)
        )
    return SimulationConfig.from_dict(read_config_file(path, what="simulation config"))


