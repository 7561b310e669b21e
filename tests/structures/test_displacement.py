"""Displacement parameters, modulated CIFs and multi-block files in the structure reader."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from xrdsim.errors import StructureError
from xrdsim.peaks.bragg_kernel import bragg_reflections
from xrdsim.peaks.lines import compute_peaks
from xrdsim.peaks.scatterers import KERNEL_ARRAYS, structure_arrays
from xrdsim.structures.displacement import MAX_B, U_LOOKS_LIKE_B
from xrdsim.structures.reader import read_structures
from xrdsim.structures.sources import CifSource

AUTOXRD = Path("cifs") / "autoxrd_pdf_examples"

_NACL = """data_nacl
_cell_length_a 5.6402
_cell_length_b 5.6402
_cell_length_c 5.6402
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
{extra}
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_{column}
Na1 Na 0 0 0 {na}
Cl1 Cl 0.5 0.5 0.5 {cl}
{aniso}"""


def _nacl(column="U_iso_or_equiv", na="0.0158", cl="0.0126", extra="", aniso=""):
    return _NACL.format(column=column, na=na, cl=cl, extra=extra, aniso=aniso)


def _read(text: str, name: str = "mem.cif", **kwargs):
    from xrdsim.structures.reader import parse_cif

    try:
        return parse_cif(CifSource(name, "mem", text), **kwargs)
    except StructureError as exc:
        return exc


def _u_eq_from_cif(u_cif: np.ndarray, lattice) -> float:
    """U_eq = ⅓ Σᵢⱼ Uᵢⱼ a*ᵢ a*ⱼ (aᵢ·aⱼ) (Fischer & Tillmanns, Acta Cryst. C44, 775 (1988))."""
    recip = np.array(lattice.reciprocal_lattice_crystallographic.abc)
    metric = lattice.matrix @ lattice.matrix.T
    return float(np.sum(u_cif * np.outer(recip, recip) * metric) / 3)


# ---------------------------------------------------------------------- anisotropic


def test_aniso_u_of_a_real_cif_is_expanded_onto_every_equivalent_site(shared_data):
    (record,) = read_structures(shared_data / AUTOXRD / "Li2CO3_15.cif")
    s = record.structure
    tensors = s.site_properties["u_aniso"]
    assert len(s) == 24 and all(u is not None for u in tensors)
    # ICSD 66941, Li1: U11..U23 = 0.0111 0.0162 0.0241 -0.0005 0.0083 -0.0031 (Å²)
    li = np.array([[0.0111, -0.0005, 0.0083], [-0.0005, 0.0162, -0.0031],
                   [0.0083, -0.0031, 0.0241]])
    u_eq = _u_eq_from_cif(li, s.lattice)
    for site, u in zip(s, tensors, strict=True):
        assert np.linalg.eigvalsh(u).min() > 0
        if site.label == "Li1":
            assert np.trace(u) / 3 == pytest.approx(u_eq, rel=1e-9)


_TRIGONAL = """data_p3
_cell_length_a 5.2
_cell_length_b 5.2
_cell_length_c 6.1
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 120
_space_group_IT_number 143
loop_
_space_group_symop_operation_xyz
x,y,z
-y,x-y,z
-x+y,-x,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_U_iso_or_equiv
Bi1 Bi 0 0 0 0.0133
O1 O 0.31 0.12 0.2 0.02
loop_
_atom_site_aniso_label
_atom_site_aniso_U_11
_atom_site_aniso_U_22
_atom_site_aniso_U_33
_atom_site_aniso_U_12
_atom_site_aniso_U_13
_atom_site_aniso_U_23
Bi1 0.010 0.010 0.020 0.005 0 0
O1 0.020 0.015 0.030 0.006 0.004 -0.003
"""


def test_aniso_reflections_related_by_symmetry_have_equal_intensity():
    # P3: the 3-fold's fractional rotation matrix is not symmetric, so carrying the
    # general-position tensor to the equivalent sites with R·β·Rᵀ (right) or Rᵀ·β·R (wrong)
    # gives different sets of tensors; only the right one keeps the Laue symmetry -3
    s = _read(_TRIGONAL).structure
    assert len(s) == 4 and all(u is not None for u in s.site_properties["u_aniso"])
    arrays = structure_arrays(s, anomalous=False)
    g_max = 2 * math.sin(math.radians(60)) / 1.5406
    hkl, _, inten = bragg_reflections(arrays["lattice"], 0.0, g_max, 1.5406,
                                      *(arrays[k] for k in KERNEL_ARRAYS))
    table = {tuple(h): v for h, v in zip(hkl.tolist(), inten, strict=True)}
    table.update({tuple(-x for x in h): v for h, v in list(table.items())})
    three_fold = np.array([[0, -1, 0], [1, -1, 0], [0, 0, 1]])  # x' = R x for (-y, x-y, z)
    compared = 0
    for h, v in table.items():
        if v < 1e-3 * max(table.values()):
            continue
        image = tuple(int(x) for x in three_fold.T @ np.array(h))  # h' = Rᵀh: h'·x = h·Rx
        assert table[image] == pytest.approx(v, rel=1e-7), (h, image)
        compared += 1
    assert compared > 100
    # and the tensors differ from the isotropic equivalent enough to matter
    iso = s.copy()
    iso.remove_site_property("u_aniso")
    iso.add_site_property("b_iso", [8 * math.pi**2 * np.trace(u) / 3
                                    for u in s.site_properties["u_aniso"]])
    a, b = compute_peaks(s), compute_peaks(iso)
    np.testing.assert_array_equal(a.two_theta[:20], b.two_theta[:20])
    assert np.abs(a.intensity[:20] - b.intensity[:20]).max() > 0.5


def test_aniso_b_and_beta_columns(shared_data, test_data):
    (lioh,) = read_structures(shared_data / AUTOXRD / "LiOH_129.cif")
    by_label = {site.label: site.properties["u_aniso"] for site in lioh.structure}
    # ICSD 27543 (P4/nmm): Li1 B11 = B22 = 0.38, B33 = 0.93 Å²
    np.testing.assert_allclose(np.diag(by_label["Li1"]) * 8 * math.pi**2, [0.38, 0.38, 0.93],
                               atol=1e-9)
    (mono,) = read_structures(test_data / "cifs" / "LiOH-H2O_12.cif")
    s = mono.structure
    # ICSD 9138, Li1 beta11..beta23 = 0.0082 0.0046 0.0543 0 0.0056 0 → U = β/(2π² a*ᵢa*ⱼ)
    beta = np.array([[0.0082, 0, 0.0056], [0, 0.0046, 0], [0.0056, 0, 0.0543]])
    recip = np.array(s.lattice.reciprocal_lattice_crystallographic.abc)
    u_cif = beta / (2 * math.pi**2 * np.outer(recip, recip))
    li = [u for site, u in zip(s, s.site_properties["u_aniso"], strict=True)
          if site.label == "Li1"]
    assert li and all(np.trace(u) / 3 == pytest.approx(_u_eq_from_cif(u_cif, s.lattice),
                                                       rel=1e-9) for u in li)


def test_isotropic_uij_in_a_cif_equals_uiso():
    aniso = """loop_
_atom_site_aniso_label
_atom_site_aniso_U_11
_atom_site_aniso_U_22
_atom_site_aniso_U_33
_atom_site_aniso_U_12
_atom_site_aniso_U_13
_atom_site_aniso_U_23
Na1 0.0158 0.0158 0.0158 0 0 0
Cl1 0.0126 0.0126 0.0126 0 0 0
"""
    with_u = _read(_nacl(aniso=aniso)).structure
    with_iso = _read(_nacl()).structure
    assert "u_aniso" in with_u.site_properties
    a, b = compute_peaks(with_u), compute_peaks(with_iso)
    np.testing.assert_array_equal(a.two_theta, b.two_theta)
    np.testing.assert_allclose(a.intensity_raw, b.intensity_raw, rtol=1e-10)


# ------------------------------------------------------------------- U vs B plausibility


def test_u_column_holding_b_warns_and_is_an_error_record():
    text = _nacl(na="0.91(3)", cl="1.12(2)")
    with pytest.warns(UserWarning, match=r"bad\.cif: column _atom_site_u_iso_or_equiv .* look "
                      r"like B"):
        out = _read(text, "bad.cif")
    assert isinstance(out, StructureError) and "u_as_b=True" in out.reason
    assert f"outside 0..{MAX_B}" in out.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = _read(text, "bad.cif", u_as_b=True)
    assert fixed.structure.site_properties["b_iso"][0] in (0.91, 1.12)


def test_large_but_possible_u_warns_only():
    u = 1.1 * U_LOOKS_LIKE_B
    with pytest.warns(UserWarning, match="look like B"):
        record = _read(_nacl(na=str(u), cl=str(u)))
    assert record.structure.site_properties["b_iso"][0] == pytest.approx(8 * math.pi**2 * u)


def test_absurd_b_is_an_error_record_and_plain_values_are_quiet():
    out = _read(_nacl(column="B_iso_or_equiv", na="25.0", cl="1.0"))
    assert isinstance(out, StructureError) and "B = 25" in out.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = _read(_nacl())
    assert record.structure.site_properties["b_iso"][0] == pytest.approx(8 * math.pi**2 *
                                                                         0.0158)


# ---------------------------------------------------------------- modulated, multi-block


@pytest.mark.parametrize("extra", [
    "_cell_modulation_dimension 1",
    "_space_group_ssg_name 'Pmmn(00g)s00'",
    "loop_\n_cell_wave_vector_seq_id\n_cell_wave_vector_z\n1 0.3213",
])
def test_modulated_cifs_are_refused(extra):
    out = _read(_nacl(extra=extra))
    assert isinstance(out, StructureError) and "modulated (superspace)" in out.reason


def test_unmodulated_dimension_zero_is_read():
    assert not isinstance(_read(_nacl(extra="_cell_modulation_dimension 0")), StructureError)


def test_multi_block_powder_cif_yields_its_structure_and_no_errors(test_data, tmp_path):
    path = test_data / "patterns" / "handmade_pdcif_multiblock.cif"
    out = list(read_structures(path))
    assert len(out) == 1 and not isinstance(out[0], StructureError)
    assert out[0].structure_id == "handmade_pdcif_multiblock#NaCl_phase"
    assert out[0].structure.composition.reduced_formula == "NaCl"
    profile_only = tmp_path / "profile.cif"
    text = path.read_text()
    profile_only.write_text(text[:text.index("data_NaCl_phase")]
                            + text[text.index("data_NaCl_profile"):])
    (err,) = read_structures(profile_only)
    assert isinstance(err, StructureError) and "no atom sites in any of its 2 data" in err.reason


def test_item31_20_u_as_b_applies_per_file_and_warns_where_it_would_change_a_plausible_u():
    """One read call over a file with B under the U tag and one with real U: u_as_b=True
    reads the first as B and keeps the second as U, saying so."""
    b_like = _nacl(na="0.91(3)", cl="1.12(2)")
    u_like = _nacl(na="0.0115(4)", cl="0.0142(3)")
    with pytest.warns(UserWarning, match=r"good\.cif: u_as_b=True not applied to column "
                      r"_atom_site_u_iso_or_equiv: its values look like U"):
        kept_u = _read(u_like, "good.cif", u_as_b=True)
    b_iso = sorted(kept_u.structure.site_properties["b_iso"])
    assert b_iso[0] == pytest.approx(8 * np.pi**2 * 0.0115) and b_iso[-1] == pytest.approx(
        8 * np.pi**2 * 0.0142)
    assert sorted(set(_read(b_like, "bad.cif", u_as_b=True)
                      .structure.site_properties["b_iso"])) == [0.91, 1.12]
