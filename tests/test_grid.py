import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import WAVELENGTHS as PMG_WAVELENGTHS

from xrdsim.errors import ConfigError
from xrdsim.grid import N_BINS, bin_index, convert_two_theta, d_spacing, grid_centers
from xrdsim.structures.crystal_systems import (
    CRYSTAL_SYSTEMS,
    crystal_system_index,
    crystal_system_name,
)
from xrdsim.wavelengths import WAVELENGTHS, resolve_wavelength


def test_grid_matches_das2025_table1():
    x = grid_centers()
    assert x.shape == (N_BINS,) == (12_000,)
    # 2θ_j = 0.01 (j − 1) + 0.005 for j = 1…N
    j = np.arange(1, N_BINS + 1)
    np.testing.assert_allclose(x, 0.01 * (j - 1) + 0.005, rtol=0, atol=1e-12)
    assert bin_index(np.array([0.0, 0.0099, 0.01, 119.999, 120.0, -0.1]))[:].tolist() == [
        0, 0, 1, 11999, -1, -1,
    ]


def test_wavelength_conversion_preserves_d_spacing():
    two_theta_mo = np.array([10.0, 20.0, 30.0, 45.0])
    cu = convert_two_theta(two_theta_mo, from_wavelength=0.7093, to_wavelength=1.5406)
    np.testing.assert_allclose(
        d_spacing(cu, wavelength=1.5406), d_spacing(two_theta_mo, wavelength=0.7093), rtol=1e-12
    )
    # Mo 60° is d = 0.709 Å, which needs sinθ = 1.086 at Cu: past the edge, NaN.
    assert np.isnan(convert_two_theta(np.array([60.0]), from_wavelength=0.7093,
                                      to_wavelength=1.5406))[0]


def test_wavelength_presets_agree_with_pymatgen():
    for name, value in WAVELENGTHS.items():
        assert value == pytest.approx(PMG_WAVELENGTHS[name], abs=1e-6), name
    assert resolve_wavelength("cuka1") == WAVELENGTHS["CuKa1"]
    assert resolve_wavelength(1.5418) == 1.5418
    assert resolve_wavelength("0.5") == 0.5
    with pytest.raises(ConfigError, match="unknown wavelength"):
        resolve_wavelength("CuKz")
    with pytest.raises(ConfigError, match="positive"):
        resolve_wavelength(-1)


def test_crystal_system_ranges():
    assert crystal_system_name(1) == "triclinic"
    assert crystal_system_name(15) == "monoclinic"
    assert crystal_system_name(16) == "orthorhombic"
    assert crystal_system_name(142) == "tetragonal"
    assert crystal_system_name(143) == "trigonal"
    assert crystal_system_name(194) == "hexagonal"
    assert crystal_system_name(230) == "cubic"
    counts = np.bincount(crystal_system_index(np.arange(1, 231)), minlength=7)
    assert counts.tolist() == [2, 13, 59, 68, 25, 27, 36] and len(CRYSTAL_SYSTEMS) == 7
    with pytest.raises(ConfigError):
        crystal_system_index(0)


def test_bin_centers_of_single_bins_are_the_grid_centres():
    from xrdsim.grid import bin_centers

    assert bin_centers(0) == 0.005 and bin_centers(11999) == 119.995  # das2025 Table 1 ends
    idx = np.array([0, 7, 4321, 11999])
    np.testing.assert_array_equal(bin_centers(idx), grid_centers()[idx])
