"""The train / invariance / extrapolation presets: bands, hulls, measured instruments."""

from __future__ import annotations

import numpy as np
import pytest

from xrdsim.simulation.config import load_config
from xrdsim.simulation.disjoint import check_disjoint
from xrdsim.simulation.ops import OPS

#: Values fitted by `xrdsim calibrate` to the measured single-phase patterns of
#: ../shared/data/patterns/autoxrd_examples (Cu Kα1+Kα2, 10–100°), copied from
#: /work/notes/calibration.json (branch i9cal): parameter → one value per file
#: (MnO, Mn2O3, LiMnO2, MnO2, TiO2 anatase).
FITTED = {
    "zero_shift.delta": (0.0306, -0.00477, 0.00423, 0.00515, -0.0431),
    "displacement.shift": (0.0, 0.0, 0.0, 0.0, 0.0),
    "profile.eta": (0.594, 0.920, 1.0, 0.859, 0.804),
    "profile.rho": (0.448, 0.145, 0.124, 0.312, -0.0449),
    "doublet.ratio": (0.473, 0.5, 0.5, 0.488, 0.5),
    "preferred_orientation.r": (1.256, 1.0, 1.0, 1.0, 1.0),
    "background.c0": (0.119, 0.128, 0.558, 0.0620, 0.401),
    "background.c1": (0.0, 0.0554, 0.0, 0.00512, 0.0),
    "background.c2": (0.0872, 0.146, 0.417, 0.0506, 0.0),
    "background.c3": (0.0418, 0.0607, 0.149, 0.0248, 0.0759),
    "amorphous.center": (15.78, 10.0, 17.73, 13.89, 16.06),
    "amorphous.fwhm": (13.51, 24.63, 9.576, 12.97, 10.05),
    "amorphous.height": (0.0269, 0.156, 0.0850, 0.00807, 0.0689),
    "poisson_noise.counts": (1.388e5, 1.368e5, 3.21e4, 1.75e5, 4.05e4),
    "scan_range.start": (10.0, 10.0, 10.0, 10.0, 10.0),
    "scan_range.end": (100.0, 100.0, 100.0, 100.0, 100.0),
}
#: Fitted FWHM (degrees) at 2θ = 20, 40, 60, 80° of the same files.
FITTED_FWHM = {
    20.0: (0.112, 0.249, 0.305, 0.085, 0.536),
    40.0: (0.096, 0.185, 0.147, 0.111, 0.614),
    60.0: (0.090, 0.256, 0.162, 0.135, 0.766),
    80.0: (0.100, 0.443, 0.396, 0.159, 1.001),
}


def _dist(cfg, name):
    op, par = name.split(".")
    return cfg.op(op).params[par]


def test_presets_are_pairwise_disjoint_from_train():
    train = load_config("train")
    check_disjoint(train, load_config("invariance"))
    check_disjoint(train, load_config("extrapolation"))


def test_invariance_lies_inside_the_hull_of_train():
    train, inv = load_config("train"), load_config("invariance")
    for spec in OPS:
        if not inv.enabled(spec.name):
            continue
        assert train.enabled(spec.name), spec.name
        for p in spec.params:
            lo, hi = inv.op(spec.name).params[p.name].bounds()
            tlo, thi = train.op(spec.name).params[p.name].bounds()
            assert tlo <= lo and hi <= thi, f"{spec.name}.{p.name}"


@pytest.mark.parametrize("name", sorted(FITTED))
def test_every_fitted_value_lies_in_a_train_band(name):
    bands = _dist(load_config("train"), name).intervals()
    for v in FITTED[name]:
        assert any(a <= v <= b for a, b in bands), f"{name} = {v} outside {bands}"


@pytest.mark.parametrize("two_theta", sorted(FITTED_FWHM))
def test_fitted_widths_lie_between_the_narrowest_and_broadest_train_profile(two_theta):
    cfg = load_config("train")
    t, c = np.tan(np.radians(two_theta / 2)), np.cos(np.radians(two_theta / 2))
    b = {k: _dist(cfg, f"profile.{k}").bounds() for k in "UVWP"}
    size, strain = _dist(cfg, "sample_broadening.size"), _dist(cfg, "sample_broadening.strain")
    narrow = b["U"][0] * t * t + b["V"][0] * t + b["W"][0] + b["P"][0] / c**2
    extra = np.degrees(0.9 * cfg.wavelength / (size.bounds()[0] * 10 * c)
                       + 4 * strain.bounds()[1] * t)  # fmt: skip
    broad = b["U"][1] * t * t + b["W"][1] + b["P"][1] / c**2 + extra**2
    for f in FITTED_FWHM[two_theta]:
        assert np.sqrt(narrow) <= f <= np.sqrt(broad)
