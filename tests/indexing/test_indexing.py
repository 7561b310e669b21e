"""Powder indexing of clean simulated scans of known crystals, and garbage that must give none.

Each scan is xrdsim's own simulation (Cu Kα1 + Kα2 at ratio 0.5, a zero shift of
+0.05°) of a crystal whose cell is known independently: Si and NaCl (International Tables
Vol. A settings, a from the NIST SRM 640 / 1963 values), corundum (Al2O3, R-3c, Lewis et
al. 1982), rutile and baddeleyite (the shared CIFs TiO2_136 and ZrO2_14), and a triclinic
crystal on kyanite's cell (Al2SiO5, P-1: 7.1, 7.85, 5.57 Å, 89.99, 101.1, 106.0°). The
found cell is compared with the true one as Niggli-reduced primitive cells.
"""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

import xrdsim
from xrdsim.errors import ConfigError
from xrdsim.indexing.cell import reduced_cell, same_lattice
from xrdsim.indexing.index import index_lines, index_pattern
from xrdsim.indexing.lines import find_lines
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import IndexingResult
from xrdsim.measured.readers import MeasuredPattern
from xrdsim.simulation.config import SimulationConfig

WAVELENGTH = 1.5418  # Cu Kα mean: the line finder fits Kα1 + Kα2 doublets
ZERO = 0.05
CLEAN = {"profile": {"U": 0.004, "V": -0.002, "W": 0.002, "P": 0.0, "eta": 0.5, "rho": 0.0},
         "doublet": {"anode": "Cu", "ratio": 0.5}, "zero_shift": {"delta": ZERO}}


def scan(structure: Structure, ops: dict | None = None, seed: int = 0) -> MeasuredPattern:
    """xrdsim's simulation of ``structure`` on the 0–120° grid, as a measured pattern."""
    peaks = xrdsim.compute_peaks(structure, wavelength=WAVELENGTH, two_theta_range=(0, 120))
    cfg = SimulationConfig.from_dict({"wavelength": WAVELENGTH, "ops": ops or CLEAN})
    y, _ = xrdsim.simulate(peaks, cfg, seed=seed)
    return MeasuredPattern(two_theta=xrdsim.grid_centers(), intensity=y.astype(np.float64),
                           sigma=None, wavelength=WAVELENGTH, source="simulated", format="xy")


def _crystals(shared):
    cifs = shared / "cifs"
    return {
        "Si": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43088), ["Si"], [[0, 0, 0]]),
               (5.43088,) * 3 + (90.0,) * 3, "F", "cubic", "cF"),
        "NaCl": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                           [[0, 0, 0], [0.5, 0.5, 0.5]]),
                 (5.6402,) * 3 + (90.0,) * 3, "F", "cubic", "cF"),
        "corundum": (Structure.from_spacegroup("R-3c", Lattice.hexagonal(4.7589, 12.991),
                                               ["Al", "O"], [[0, 0, 0.35216], [0.30624, 0, 0.25]]),
                     (4.7589, 4.7589, 12.991, 90.0, 90.0, 120.0), "R", "trigonal", "hR"),
        "rutile": (Structure.from_file(cifs / "autoxrd_examples" / "TiO2_136.cif"),
                   (4.6092, 4.6092, 2.9673, 90.0, 90.0, 90.0), "P", "tetragonal", "tP"),
        "baddeleyite": (Structure.from_file(cifs / "autoxrd_pdf_examples" / "ZrO2_14.cif"),
                        (5.1514, 5.2098, 5.3204, 90.0, 99.171, 90.0), "P", "monoclinic", "mP"),
        "kyanite cell": (Structure(Lattice.from_parameters(7.1, 7.85, 5.57, 89.99, 101.1, 106.0),
                                   ["Cu", "O"], [[0, 0, 0], [0.23, 0.61, 0.37]]),
                         (7.1, 7.85, 5.57, 89.99, 101.1, 106.0), "P", "triclinic", "aP"),
    }


@pytest.fixture(scope="module")
def indexed(shared_data):
    """name -> (IndexingResult, true cell, centring, system, Bravais lattice)."""
    out = {}
    for name, (structure, cell, centring, system, bravais) in _crystals(shared_data).items():
        settings = IndexingSettings(systems=("triclinic",)) if system == "triclinic" else None
        out[name] = (index_pattern(scan(structure), settings=settings), cell, centring, system,
                     bravais)
    return out


NAMES = ("Si", "NaCl", "corundum", "rutile", "baddeleyite", "kyanite cell")


@pytest.mark.parametrize("name", NAMES)
def test_the_true_cell_ranks_first(indexed, name):
    result, cell, centring, system, bravais = indexed[name]
    best = result.best
    assert best is not None, result.reason
    assert best.crystal_system == system
    assert best.bravais_lattice == bravais
    found = reduced_cell(best.cell, best.centring)
    true = reduced_cell(cell, centring)
    assert same_lattice(found, true, length_rel=2e-3, angle_deg=0.2), (found, true)
    # every search line indexed, and the zero shift the simulation applied recovered
    assert best.n_unindexed == 0 and best.conclusive
    assert best.zero_shift == pytest.approx(ZERO, abs=0.02)


@pytest.mark.parametrize("name", ["Si", "NaCl", "corundum", "rutile", "baddeleyite"])
def test_lengths_of_the_higher_systems_to_0_01_percent(indexed, name):
    """A clean scan pins the cell: the conventional lengths, sorted, within 10⁻⁴."""
    result, cell, *_ = indexed[name]
    assert np.sort(result.best.cell[:3]) == pytest.approx(np.sort(cell[:3]), rel=1e-4)
    assert result.best.m20 > 100  # de Wolff: > 10 is "not wrong"; an exact cell goes far higher


def test_a_displaced_specimen_still_gives_the_cell(shared_data):
    """Rutile with the specimen 0.4 mm above the focusing circle (R = 240 mm): every line
    moves by −2s·cos θ/R, 0.19° at low angle and 0.13° at 2θ = 90°, a spread across the
    scan four times the 0.03° tolerance that a constant zero shift cannot absorb."""
    structure, cell, centring, *_ = _crystals(shared_data)["rutile"]
    pattern = scan(structure, ops={**CLEAN, "displacement": {"shift": 0.4, "radius": 240.0}})
    best = index_pattern(pattern, settings=IndexingSettings(
        systems=("cubic", "tetragonal", "hexagonal", "orthorhombic"))).best
    assert best is not None and best.bravais_lattice == "tP" and best.n_unindexed == 0
    assert same_lattice(reduced_cell(best.cell, best.centring), reduced_cell(cell, centring),
                        length_rel=2e-3, angle_deg=0.2)
    assert best.m20 > 20


def test_hkl_of_silicon_follow_the_diamond_rule(indexed):
    """Si's lines: 111 220 311 400 331 422 511/333 440 531 (h, k, l all odd, or all even
    with h + k + l = 4n), at 2θ from Bragg's law with Kα1 = 1.540593 Å."""
    result, *_ = indexed["Si"]
    hkl = [tuple(sorted(map(abs, h), reverse=True)) for h in result.best.hkl]
    assert hkl == [(1, 1, 1), (2, 2, 0), (3, 1, 1), (4, 0, 0), (3, 3, 1), (4, 2, 2),
                   (5, 1, 1), (4, 4, 0), (5, 3, 1)][: len(hkl)]
    d = 5.43088 / np.sqrt(3.0)
    assert result.lines.two_theta[0] - ZERO == pytest.approx(
        2 * np.degrees(np.arcsin(1.540593 / (2 * d))), abs=0.005)


def test_corundum_is_rhombohedral_in_the_obverse_setting(indexed):
    result, *_ = indexed["corundum"]
    best = result.best
    assert best.centring == "R"
    assert all(h is None or (-h[0] + h[1] + h[2]) % 3 == 0 for h in best.hkl)


def test_result_round_trips_through_json(indexed):
    result, *_ = indexed["rutile"]
    again = IndexingResult.from_dict(result.to_dict())
    assert again.solutions == result.solutions
    assert again.settings == result.settings
    np.testing.assert_array_equal(again.lines.two_theta, result.lines.two_theta)


def test_too_few_lines_gives_no_solution():
    """Three lines: any cell of two parameters fits them; indexing refuses."""
    lines = find_lines(scan(Structure.from_spacegroup(
        "Im-3m", Lattice.cubic(3.3), ["W"], [[0, 0, 0]]), ops=CLEAN))
    lines3 = type(lines)(two_theta=lines.two_theta[:3], intensity=lines.intensity[:3],
                         fwhm=lines.fwhm[:3], sigma=lines.sigma[:3], wavelength=lines.wavelength)
    result = index_lines(lines3)
    assert result.solutions == () and "indexing needs at least 6" in result.reason


def _noise_scan(y: np.ndarray) -> MeasuredPattern:
    rng = np.random.default_rng(7)
    counts = rng.poisson(y).astype(np.float64)
    x = np.arange(5.0, 90.0, 0.02)
    return MeasuredPattern(two_theta=x, intensity=counts, sigma=None, wavelength=WAVELENGTH,
                           source="garbage", format="xy")


def test_flat_scan_gives_no_solution():
    result = index_pattern(_noise_scan(np.full(4250, 200.0)))
    assert result.solutions == ()
    assert result.reason and "line(s) found" in result.reason


def test_amorphous_hump_gives_no_solution():
    """A glass: one broad hump (FWHM 8°) on a background, counting noise only."""
    x = np.arange(5.0, 90.0, 0.02)
    result = index_pattern(_noise_scan(100.0 + 900.0 * np.exp(-4 * np.log(2) * ((x - 25.0)
                                                                              / 8.0) ** 2)))
    assert result.solutions == ()


def test_a_pattern_of_random_lines_gives_no_cell_with_m20_of_a_solution():
    """Twenty lines at random positions: whatever the search reports has M20 < 10."""
    rng = np.random.default_rng(3)
    tt = np.sort(rng.uniform(10.0, 70.0, 20))
    lines = find_lines(scan(Structure.from_spacegroup(
        "Im-3m", Lattice.cubic(3.3), ["W"], [[0, 0, 0]])))
    fake = type(lines)(two_theta=tt, intensity=np.full(20, 100.0), fwhm=np.full(20, 0.1),
                       sigma=np.full(20, 0.002), wavelength=lines.wavelength)
    result = index_lines(fake, settings=IndexingSettings(
        systems=("cubic", "tetragonal", "hexagonal", "orthorhombic")))
    assert all(not s.conclusive for s in result.solutions)


def test_settings_refuse_unknown_systems_and_bad_ranges():
    with pytest.raises(ConfigError, match="unknown crystal system 'cubik'.*cubic"):
        IndexingSettings(systems=("cubik",))
    with pytest.raises(ConfigError, match="max_length"):
        IndexingSettings(min_length=5.0, max_length=4.0)
    with pytest.raises(ConfigError, match="shift_terms"):
        IndexingSettings(shift_terms=4)
    assert IndexingSettings(systems=("trigonal",)).searched == ("hexagonal",)
    s = IndexingSettings(systems=("monoclinic", "cubic"), top=3)
    assert IndexingSettings.from_dict(s.to_dict()) == s
