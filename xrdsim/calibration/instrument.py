"""A simulation config centred on a calibrated instrument.

:func:`instrument_config` takes the ``train`` preset (or another base config) and replaces
the ranges of every op that has a fitted counterpart by a band of ±``band`` (default
20 %) around the fitted value (at least ±``floor`` for values near zero), clipped to the
op's physical range:

| fitted | config parameter |
|---|---|
| zero shift δ | ``zero_shift.delta`` |
| Kα2/Kα1 ratio, anode | ``doublet.ratio``, ``.anode`` (single line: op removed, λ = the line) |
| U, V, W, P, η, ρ | ``profile.U`` … ``profile.rho`` |
| background / peak maximum | ``background.c0…c3`` (cubic Bernstein levels, t = 2θ/120°) |
| counts equivalent C | ``poisson_noise.counts`` (base has it), else ``counting_noise`` |
| scan range | ``scan_range.start/end`` (op exists), else ``final_crop`` (±1°) |
| displacement (when fitted) | ``displacement.shift``, radius = the fit's (op exists) |

Sample effects (preferred orientation, amorphous humps, displacement when not fitted,
sample broadening, mixtures) vary from sample to sample, not with the instrument: their
ops stay as in the base. The fitted sample quantities (displacement, cell strain, B_extra,
March–Dollase r and direction, hump) are written as a comment block.
If the Caglioti box of the bands would allow FWHM² ≤ 0 somewhere on 0–120°, the four
Caglioti bands are narrowed (½, ¼, …) until the config loads; last resort: fixed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from xrdsim.calibration.fit import CalibrationResult
from xrdsim.errors import ConfigError
from xrdsim.simulation.config import load_config
from xrdsim.simulation.ops import OP_BY_NAME, op_spec
from xrdsim.wavelengths import KALPHA_DOUBLETS

#: Default relative half-width of every band.
BAND = 0.2

#: Smallest half-widths, for fitted values near zero (units of each parameter).
FLOORS = {"zero_shift.delta": 0.01, "doublet.ratio": 0.02, "profile.U": 1e-4,
          "profile.V": 1e-4, "profile.W": 1e-4, "profile.P": 1e-4, "profile.eta": 0.05,
          "profile.rho": 0.05, "background": 0.005, "counting_noise.counts": 100.0}


def _band(op: str, name: str, value: float, rel: float, floor: float) -> Any:
    spec = next(p for p in op_spec(op).params if p.name == name)
    half = max(rel * abs(value), floor) if rel > 0 else 0.0
    lo, hi = max(value - half, spec.lo), min(value + half, spec.hi)
    return float(value) if hi <= lo else {"uniform": [float(lo), float(hi)]}


def instrument_config(result: CalibrationResult, *, base: Any = "train", band: float = BAND,
                      name: str | None = None) -> dict[str, Any]:
    """A config dict (loadable by :func:`xrdsim.load_config`) centred on ``result``.

    Args:
        result: a :class:`~xrdsim.calibration.fit.CalibrationResult`.
        base: the config whose other ops are kept (preset name, path, dict or config).
        band: relative half-width of the ranges, 0 ≤ band < 1 (0: fixed values).
        name: the config's name; default ``instrument-<file stem>``.

    Raises:
        ConfigError: a bad ``band`` or base config.
    """
    if not 0.0 <= band < 1.0:
        raise ConfigError(f"band must be in [0, 1) (relative half-width), got {band!r}")
    v, p = result.values, result.values["parameters"]
    cfg = load_config(base).to_dict()
    ops = cfg["ops"]
    cfg["name"] = name or f"instrument-{Path(result.source).stem}"
    cfg["description"] = (f"Instrument calibrated on {Path(result.source).name} with "
                          f"{result.cif} (Rwp {v['rwp']:.2f} %), ranges ±{band:.0%}.")

    def banded(op: str, param: str, value: float, scale: float = 1.0, key: str = "") -> Any:
        return _band(op, param, value, band * scale, FLOORS[key or f"{op}.{param}"])

    ops["zero_shift"] = {"delta": banded("zero_shift", "delta", p["zero_shift"])}
    if v["lines"] == "Kα1+Kα2":
        anode = v["anode"]
        k1, k2 = KALPHA_DOUBLETS[anode]
        if ops.get("doublet", {}).get("anode") != anode:
            cfg["wavelength"] = (2.0 * k1 + k2) / 3.0
        ops["doublet"] = {"anode": anode, "ratio": banded("doublet", "ratio", p["ratio"])}
    else:
        ops.pop("doublet", None)
        cfg["wavelength"] = v["line_wavelengths"][0]
    levels = v["background"]["bernstein_relative"]
    ops["background"] = {f"c{k}": banded("background", f"c{k}", c, key="background")
                         for k, c in enumerate(levels)}
    noise_op = "poisson_noise" if "poisson_noise" in ops else "counting_noise"
    ops[noise_op] = {"counts": banded(noise_op, "counts", v["noise"]["counts_equivalent"],
                                      key="counting_noise.counts")}
    lo, hi = v["two_theta_range"]
    ends = {"low": {"uniform": [max(lo - 1.0, 0.0), max(lo + 1.0, 0.5)]},
            "high": {"uniform": [min(hi - 1.0, 119.0), min(hi + 1.0, 120.0)]}}
    if "scan_range" in OP_BY_NAME:
        ops["scan_range"] = {"start": ends["low"], "end": ends["high"]}
    else:
        ops["final_crop"] = ends
    if v["settings"]["displacement"] and "displacement" in OP_BY_NAME:
        ops["displacement"] = {"shift": banded("displacement", "shift", p["displacement"],
                                               key="zero_shift.delta"),
                               "radius": v["radius_mm"]}
    settings = {k: val for k, val in ops.get("profile", {}).items()
                if k in op_spec("profile").settings}
    for shrink in (1.0, 0.5, 0.25, 0.125, 0.0):
        ops["profile"] = {**settings,
                          **{k: banded("profile", k, p[k], shrink if k in "UVWP" else 1.0)
                             for k in ("U", "V", "W", "P")},
                          "eta": banded("profile", "eta", p["eta"]),
                          "rho": banded("profile", "rho", p["rho"])}
        try:
            load_config(cfg)
            break
        except ConfigError:
            if shrink == 0.0:
                raise
    return cfg


def unmodelled(result: CalibrationResult) -> dict[str, Any]:
    """The fitted quantities the config cannot express (no op), for the YAML comment."""
    v, p = result.values, result.values["parameters"]
    return {"displacement_mm": p["displacement"], "radius_mm": v["radius_mm"],
            "cell_strain": [p["strain_a"], p["strain_b"], p["strain_c"]],
            "b_extra": p["b_extra"], "march_dollase_r": p["po_r"],
            "preferred_direction": v["preferred_direction"], "hump": v["background"]["hump"]}


def write_config(cfg: dict[str, Any], path: str | Path, *,
                 result: CalibrationResult | None = None) -> Path:
    """Write ``cfg`` as YAML (checked by :func:`load_config` first), with the fitted values
    that have no op as a leading comment when ``result`` is given."""
    load_config(cfg)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ""
    if result is not None:
        lines = yaml.safe_dump(unmodelled(result), sort_keys=False, allow_unicode=True)
        header = ("# written by xrdsim calibrate; fitted but without an op in this config:\n"
                  + "".join(f"#   {line}\n" for line in lines.splitlines()))
    out.write_text(header + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    return out
