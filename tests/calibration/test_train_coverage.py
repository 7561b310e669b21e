"""Every instrument fitted on the measured files lies inside the `train` preset.

The fitted values are read from ``benchmarks/results/calibration.json`` (written by
``python benchmarks/experiments/calibrate_shared.py``); each is mapped onto the config
parameter that simulates it and must lie inside the range `train` spans (its hull: the smallest and
largest value it can draw; banded ranges leave gaps that belong to `invariance`).
Quantities without a simulator counterpart are skipped with the reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from xrdsim.simulation.config import load_config
from xrdsim.simulation.ops import OP_BY_NAME

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "calibration.json"
RECORDS = json.loads(RESULTS.read_text(encoding="utf-8"))["files"]
#: Scherrer constant of the simulator's sample_broadening op.
SCHERRER_K = 0.9

pytestmark = pytest.mark.skipif(
    "scan_range" not in OP_BY_NAME,
    reason="the op catalogue predates issue 9 (no scan_range op): its train preset was not "
           "made to cover measured instruments")


def hull(spec) -> tuple[float, float]:
    """Smallest and largest value a config distribution (as written in YAML) can draw."""
    if isinstance(spec, (int, float)):
        return float(spec), float(spec)
    (kind, value), = spec.items()
    if kind == "fixed":
        return float(value), float(value)
    if kind in ("uniform", "loguniform", "randint"):
        return float(value[0]), float(value[1])
    if kind == "plusminus":
        return -float(value[1]), float(value[1])
    if kind == "choice":
        return float(min(value)), float(max(value))
    if kind in ("bands", "logbands"):
        return float(min(b[0] for b in value)), float(max(b[1] for b in value))
    raise AssertionError(f"unknown distribution {kind!r}")


def fwhm_hull(ops: dict, wavelength: float, two_theta: float) -> tuple[float, float]:
    """Smallest and largest FWHM (degrees) `train` can give at ``two_theta``: Caglioti
    corners (FWHM² is linear in U, V, W, P), plus sample_broadening in quadrature."""
    theta = math.radians(two_theta / 2.0)
    t, c2 = math.tan(theta), math.cos(theta) ** 2
    prof = ops["profile"]
    corners = [u * t * t + v * t + w + q / c2
               for u in hull(prof["U"]) for v in hull(prof["V"])
               for w in hull(prof["W"]) for q in hull(prof["P"])]
    low, high = math.sqrt(max(min(corners), 0.0)), math.sqrt(max(corners))
    if "sample_broadening" in ops:
        sizes, strains = hull(ops["sample_broadening"]["size"]), hull(
            ops["sample_broadening"]["strain"])

        def extra(size, strain):  # (Kλ/(D cosθ) + 4ε tanθ)·180/π, λ and D in nm
            return math.degrees(SCHERRER_K * wavelength / 10.0 / (size * math.cos(theta))
                                + 4.0 * strain * t)

        low = math.hypot(low, extra(sizes[1], strains[0]))
        high = math.hypot(high, extra(sizes[0], strains[1]))
    return low, high


def quantities(record: dict) -> list[tuple[str, str | None, object]]:
    """(quantity, train parameter or None, fitted value or the reason it is skipped)."""
    p, v = record["parameters"], record
    hump = v["background"]["hump"]
    out = [
        ("zero shift", "zero_shift.delta", p["zero_shift"]),
        ("displacement", "displacement.shift", p["displacement"]) if v["settings"].get(
            "displacement") else ("displacement", None, "not fitted: with a free cell it is "
                                  "collinear with the zero shift and the cell strain"),
        ("Kα2/Kα1 ratio", "doublet.ratio", p.get("ratio", 0.0)),
        ("pseudo-Voigt η", "profile.eta", p["eta"]),
        ("asymmetry ρ", "profile.rho", p["rho"]),
        ("Caglioti U, V, W, P", None, "strongly correlated; the widths they give are "
         "checked instead (FWHM at 20/40/60/80°)"),
        ("cell strain", None, "the sample's cell, part of the structure, not the instrument"),
        ("extra B", None, "a Debye–Waller correction of the structure, not the instrument"),
        ("counts", "poisson_noise.counts", v["noise"]["counts_equivalent"]),
        ("scan start", "scan_range.start", v["two_theta_range"][0]),
        ("scan end", "scan_range.end", v["two_theta_range"][1]),
    ]
    out += [(f"background c{k}", f"background.c{k}", c)
            for k, c in enumerate(v["background"]["bernstein_relative"])]
    out += [(f"FWHM at {a}°", f"FWHM@{a}", w) for a, w in v["fwhm_at"].items()
            if v["two_theta_range"][0] <= float(a) <= v["two_theta_range"][1]]
    if v["preferred_direction"] is not None:
        out.append(("March–Dollase r", "preferred_orientation.r", p["po_r"]))
    else:
        out.append(("March–Dollase r", None, "no preferred orientation found (r = 1)"))
    if hump is not None and hump["height_relative"] > 0.0:
        out += [("hump centre", "amorphous.center", hump["center"]),
                ("hump FWHM", "amorphous.fwhm", hump["fwhm"]),
                ("hump height", "amorphous.height", hump["height_relative"])]
    return out


def outside(ops: dict, wavelength: float, records: list[dict]) -> list[str]:
    """Every fitted value outside `train` (given as its ``ops`` mapping), as messages."""
    bad = []
    for record in records:
        for name, target, value in quantities(record):
            if target is None:
                continue
            if target.startswith("FWHM@"):
                lo, hi = fwhm_hull(ops, wavelength, float(target[5:]))
            else:
                op, param = target.split(".")
                if op not in ops:
                    continue  # reported by test_every_mapped_op_is_in_train
                lo, hi = hull(ops[op][param])
            if not lo <= value <= hi:
                bad.append(f"{record['source']}: {name} = {value:.5g} outside train's "
                           f"{target} [{lo:.5g}, {hi:.5g}]")
    return bad


@pytest.fixture(scope="module")
def train() -> dict:
    return load_config("train").to_dict()


@pytest.mark.parametrize("record", RECORDS, ids=[Path(r["source"]).name for r in RECORDS])
def test_fitted_instrument_lies_inside_train(record, train):
    assert outside(train["ops"], train["wavelength"], [record]) == []


def test_every_mapped_op_is_in_train(train):
    missing = sorted({t.split(".")[0] for r in RECORDS for _, t, _ in quantities(r)
                      if t is not None and not t.startswith("FWHM@")} - set(train["ops"]))
    assert missing == [], f"train lacks the ops {missing} that measured patterns need"
