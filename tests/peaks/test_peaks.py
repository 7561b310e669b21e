"""compute_peaks against pymatgen's XRDCalculator, hand-computed textbook cases and invariants.

Every test here runs with pymatgen's conventions (``PYMATGEN_OPTIONS``: pymatgen's f0 table,
no anomalous dispersion), so the line-by-line agreement with ``XRDCalculator`` stays a test;
the default physics (Waasmaier–Kirfel f0, ions, Chantler f′/f″, Uij) is tested in
``test_scattering.py``.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
import warnings
from functools import partial
from importlib import resources

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure
from pymatgen.core.periodic_table import DummySpecies
from pymatgen.io.cif import CifParser

from xrdsim.errors import ConfigError, StructureError
from xrdsim.peaks.lines import SCALED_INTENSITY_TOL, PeakList, compute_peaks

#: compute_peaks options that reproduce pymatgen's XRDCalculator.
PYMATGEN_OPTIONS = {"form_factors": "pymatgen", "anomalous": False}
compute_peaks_pm = partial(compute_peaks, **PYMATGEN_OPTIONS)
CU = 1.5418
#: Matching criteria of issue 2: lines above 1 % of the strongest, 0.001° 2θ, 0.5 on 0–100.
MATCH_MIN_INTENSITY = 1.0
MATCH_TWO_THETA = 1e-3
MATCH_INTENSITY = 0.5
#: Deterministic MP-20 sample (rows of mp20_test sorted by id, then random.Random(SEED)).
N_MP20 = 200
N_MP20_OTHER_SETTINGS = 40
SEED = 20251122


def _unmatched(x_a, y_a, x_b, y_b) -> list[tuple[float, float]]:
    """Lines of a (above MATCH_MIN_INTENSITY) without a partner in b."""
    missing = []
    for t, i in zip(x_a, y_a, strict=True):
        if i <= MATCH_MIN_INTENSITY:
            continue
        ok = (np.abs(x_b - t) <= MATCH_TWO_THETA) & (np.abs(y_b - i) <= MATCH_INTENSITY)
        if not ok.any():
            missing.append((float(t), float(i)))
    return missing


def _compare_with_pymatgen(structure, wavelength, two_theta_range) -> list[str]:
    ours = compute_peaks_pm(structure, wavelength=wavelength, two_theta_range=two_theta_range)
    pattern = XRDCalculator(wavelength=wavelength).get_pattern(
        structure, scaled=True, two_theta_range=two_theta_range
    )
    x, y = np.asarray(pattern.x), np.asarray(pattern.y)
    problems = []
    for t, i in _unmatched(x, y, ours.two_theta, ours.intensity):
        problems.append(f"pymatgen line {t:.5f}° I={i:.3f} has no xrdsim partner")
    for t, i in _unmatched(ours.two_theta, ours.intensity, x, y):
        problems.append(f"xrdsim line {t:.5f}° I={i:.3f} has no pymatgen partner")
    return problems


def _mp20_sample(shared_data, n, seed):
    csv.field_size_limit(2**31 - 1)
    with gzip.open(shared_data / "structures" / "mp20_test.csv.gz", "rt", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["material_id"])
    picked = random.Random(seed).sample(rows, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen notes rounded coordinates
        return [(r["material_id"], Structure.from_str(r["cif"], fmt="cif")) for r in picked]


def test_mp20_sample_matches_pymatgen(shared_data):
    failures = {}
    for sid, structure in _mp20_sample(shared_data, N_MP20, SEED):
        problems = _compare_with_pymatgen(structure, CU, (0.0, 120.0))
        if problems:
            failures[sid] = problems[:5]
    assert not failures, failures


def test_mp20_other_wavelength_and_range_match_pymatgen(shared_data):
    failures = {}
    for sid, structure in _mp20_sample(shared_data, N_MP20_OTHER_SETTINGS, SEED + 1):
        problems = _compare_with_pymatgen(structure, 0.70930, (10.0, 60.0))
        if problems:
            failures[sid] = problems[:5]
    assert not failures, failures


def test_every_shared_cif_matches_pymatgen(shared_data):
    files = sorted((shared_data / "cifs").rglob("*.cif"))
    assert len(files) >= 90
    failures, compared = {}, 0
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                structures = CifParser(path).parse_structures(primitive=False)
            except (ValueError, KeyError):
                continue  # pymatgen cannot parse it: nothing to compare with
        for k, structure in enumerate(structures):
            compared += 1
            problems = _compare_with_pymatgen(structure, CU, (0.0, 120.0))
            if problems:
                failures[f"{path.name}#{k}"] = problems[:5]
    assert compared >= 90
    assert not failures, failures


def test_debye_waller_b_iso_matches_pymatgen_element_factors():
    nacl = _rock_salt()
    b = {"Na": 1.2, "Cl": 0.7}
    nacl.add_site_property("b_iso", [b[site.specie.symbol] for site in nacl])
    ours = compute_peaks_pm(nacl, wavelength=CU)
    ref = XRDCalculator(wavelength=CU, debye_waller_factors=b).get_pattern(
        nacl, two_theta_range=(0, 120)
    )
    np.testing.assert_allclose(ours.two_theta, ref.x, atol=1e-9)
    np.testing.assert_allclose(ours.intensity, ref.y, rtol=1e-9, atol=1e-9)
    plain = compute_peaks_pm(nacl, wavelength=CU, debye_waller=False)
    no_b = compute_peaks_pm(_rock_salt(), wavelength=CU)
    np.testing.assert_allclose(plain.intensity_raw, no_b.intensity_raw, rtol=1e-12)
    # exp(-2 B s^2) on |F|^2 damps the high-angle lines relative to the low-angle ones
    assert (
        ours.intensity_raw[-1] / ours.intensity_raw[0]
        < plain.intensity_raw[-1] / (plain.intensity_raw[0])
    )


def _b_iso_as_isotropic_ucif(structure: Structure) -> Structure:
    """Per-site B as pymatgen's U_cif site properties: U_ij = U·cos(angle*_ij), U = B/8π².

    Then 2π²·hᵀU*h = 2π²·U·|G|² = B·s², so pymatgen's anisotropic Debye–Waller path
    computes the same exp(−B s²) per site: an independent check of our per-site B.
    """
    s = structure.copy()
    u = np.asarray(s.site_properties["b_iso"]) / (8 * math.pi**2)
    cos_a, cos_b, cos_g = np.cos(np.radians(s.lattice.reciprocal_lattice_crystallographic.angles))
    for name, factor in (
        ("U11", 1),
        ("U22", 1),
        ("U33", 1),
        ("U23", cos_a),
        ("U13", cos_b),
        ("U12", cos_g),
    ):
        s.add_site_property(f"{name}_cif", list(u * factor))
    s.remove_site_property("b_iso")
    return s


def test_cif_b_and_u_per_site_match_pymatgen_anisotropic_path(shared_data):
    from xrdsim.structures.reader import read_structures

    folders = sorted(p for p in (shared_data / "cifs").iterdir() if p.is_dir())
    compared = 0
    for record in read_structures(folders):
        if isinstance(record, StructureError):
            continue
        structure = record.structure
        if "b_iso" not in structure.site_properties:
            continue
        if "u_aniso" in structure.site_properties:  # compared in test_scattering.py
            structure.remove_site_property("u_aniso")
        ours = compute_peaks_pm(structure, wavelength=CU)
        ref = XRDCalculator(wavelength=CU).get_pattern(
            _b_iso_as_isotropic_ucif(structure), two_theta_range=(0, 120)
        )
        np.testing.assert_allclose(ours.two_theta, ref.x, atol=1e-9, err_msg=record.source)
        np.testing.assert_allclose(ours.intensity, ref.y, atol=1e-9, err_msg=record.source)
        compared += 1
    assert compared >= 5  # the shared CIFs with B or U (PeakPo, AutoXRD)


def test_disordered_site_matches_pymatgen():
    s = Structure(Lattice.cubic(3.6), [{"Fe": 0.5, "Ni": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert not _compare_with_pymatgen(s, CU, (0.0, 120.0))
    np.testing.assert_allclose(
        compute_peaks_pm(s).intensity_raw,
        XRDCalculator(wavelength=CU).get_pattern(s, scaled=False, two_theta_range=(0, 120)).y,
        rtol=1e-9,
    )


# ---------------------------------------------------------------- textbook cases, by hand

_TABLE = json.loads(
    resources.files("xrdsim.data").joinpath("atomic_scattering_params.json").read_text()
)
_Z = {"Na": 11, "Cl": 17, "Si": 14, "Cs": 55, "Mg": 12, "Cu": 29}


def _f(symbol: str, two_theta: float, lam: float = CU) -> float:
    """f(s) = Z − 41.78214·s²·Σ a·exp(−b s²), s = sinθ/λ (the data file's convention)."""
    s2 = (math.sin(math.radians(two_theta / 2)) / lam) ** 2
    return _Z[symbol] - 41.78214 * s2 * sum(a * math.exp(-b * s2) for a, b in _TABLE[symbol])


def _lp(two_theta: float) -> float:
    t = math.radians(two_theta / 2)
    return (1 + math.cos(2 * t) ** 2) / (math.sin(t) ** 2 * math.cos(t))


def _bragg(d: float, lam: float = CU) -> float:
    """2θ in degrees from Bragg's law λ = 2 d sinθ."""
    return 2 * math.degrees(math.asin(lam / (2 * d)))


def _check_lines(peaks: PeakList, expected: list[tuple[tuple[int, int, int], float, int, float]]):
    """expected: (hkl, 2θ, multiplicity, |F|²·mult·LP unscaled) of the first lines, in order."""
    n = len(expected)
    np.testing.assert_allclose(peaks.two_theta[:n], [e[1] for e in expected], atol=1e-8)
    assert [tuple(h) for h in peaks.hkl[:n]] == [e[0] for e in expected]
    assert list(peaks.multiplicity[:n]) == [e[2] for e in expected]
    raw = np.array([e[3] for e in expected])
    np.testing.assert_allclose(peaks.intensity_raw[:n], raw, rtol=1e-9)
    np.testing.assert_allclose(
        peaks.d[:n], [CU / (2 * math.sin(math.radians(e[1] / 2))) for e in expected], rtol=1e-12
    )


def _rock_salt() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_nacl_lines_by_hand():
    a = 5.64
    expected = []
    for hkl, mult in (
        ((1, 1, 1), 8),
        ((2, 0, 0), 6),
        ((2, 2, 0), 12),
        ((3, 1, 1), 24),
        ((2, 2, 2), 8),
        ((4, 0, 0), 6),
    ):
        tt = _bragg(a / math.sqrt(sum(i * i for i in hkl)))
        sign = 1 if hkl[0] % 2 == 0 else -1  # all even: 4(f_Na + f_Cl); all odd: 4(f_Cl − f_Na)
        f = 4 * (_f("Cl", tt) + sign * _f("Na", tt))
        expected.append((hkl, tt, mult, mult * f * f * _lp(tt)))
    peaks = compute_peaks_pm(_rock_salt())
    _check_lines(peaks, expected)
    assert peaks.two_theta[0] == pytest.approx(27.3889, abs=1e-4)  # 111: d = 3.2563 Å
    assert peaks.intensity[1] == 100.0  # 200 is the strongest NaCl line
    assert peaks.intensity[0] == pytest.approx(100 * expected[0][3] / expected[1][3], rel=1e-9)


def test_silicon_lines_by_hand_and_absences():
    a = 5.431
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    assert len(si) == 8
    expected = []
    # F = 8f for h+k+l = 4n, |F|² = 32 f² for h,k,l odd, 0 for h+k+l = 4n+2 (200, 222)
    for hkl, mult, f2 in (
        ((1, 1, 1), 8, 32),
        ((2, 2, 0), 12, 64),
        ((3, 1, 1), 24, 32),
        ((4, 0, 0), 6, 64),
        ((3, 3, 1), 24, 32),
        ((4, 2, 2), 24, 64),
    ):
        tt = _bragg(a / math.sqrt(sum(i * i for i in hkl)))
        expected.append((hkl, tt, mult, mult * f2 * _f("Si", tt) ** 2 * _lp(tt)))
    peaks = compute_peaks_pm(si)
    _check_lines(peaks, expected)
    assert peaks.two_theta[0] == pytest.approx(28.4647, abs=1e-4)  # 111: d = 3.1356 Å
    for forbidden in ((2, 0, 0), (2, 2, 2)):
        tt = _bragg(a / math.sqrt(sum(i * i for i in forbidden)))
        assert np.all(np.abs(peaks.two_theta - tt) > 0.01), f"{forbidden} must be absent"


def test_cscl_lines_by_hand():
    a = 4.123
    cscl = Structure(Lattice.cubic(a), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    expected = []
    for hkl, mult in (
        ((1, 0, 0), 6),
        ((1, 1, 0), 12),
        ((1, 1, 1), 8),
        ((2, 0, 0), 6),
        ((2, 1, 0), 24),
        ((2, 1, 1), 24),
    ):
        tt = _bragg(a / math.sqrt(sum(i * i for i in hkl)))
        sign = 1 if sum(hkl) % 2 == 0 else -1  # F = f_Cs ± f_Cl
        f = _f("Cs", tt) + sign * _f("Cl", tt)
        expected.append((hkl, tt, mult, mult * f * f * _lp(tt)))
    peaks = compute_peaks_pm(cscl)
    _check_lines(peaks, expected)
    assert peaks.intensity[1] == 100.0  # 110 strongest


def test_magnesium_hexagonal_lines_by_hand():
    a, c = 3.2094, 5.2108
    mg = Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(a, c), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
    )
    expected = []
    for hkl, mult in (
        ((1, 0, 0), 6),
        ((0, 0, 2), 2),
        ((1, 0, 1), 12),
        ((1, 0, 2), 12),
        ((1, 1, 0), 6),
        ((1, 0, 3), 12),
    ):
        h, k, l_ = hkl
        d = 1 / math.sqrt(4 / 3 * (h * h + h * k + k * k) / a**2 + l_ * l_ / c**2)
        tt = _bragg(d)
        phase = sum(np.exp(2j * np.pi * (h * x + k * y + l_ * z)) for x, y, z in mg.frac_coords)
        expected.append((hkl, tt, mult, mult * abs(phase) ** 2 * _f("Mg", tt) ** 2 * _lp(tt)))
    expected.sort(key=lambda e: e[1])
    peaks = compute_peaks_pm(mg)
    _check_lines(peaks, expected)
    assert tuple(peaks.hkl[np.argmax(peaks.intensity)]) == (1, 0, 1)  # Mg: 101 strongest


def test_monoclinic_lines_by_hand():
    a, b, c, beta = 3.0, 4.0, 5.0, 100.0
    cu = Structure(Lattice.from_parameters(a, b, c, 90, beta, 90), ["Cu"], [[0, 0, 0]])
    cb, sb = math.cos(math.radians(beta)), math.sin(math.radians(beta))

    def d_mono(h, k, l_):  # unique axis b
        inv = h * h / a**2 + k * k * sb * sb / b**2 + l_ * l_ / c**2 - 2 * h * l_ * cb / (a * c)
        return 1 / math.sqrt(inv / (sb * sb))

    # every reflection with d > 1.6 Å, grouped by equal d: 2/m gives {hkl} 4 members,
    # {h0l} and {0k0} 2 (F = f for one atom at the origin)
    lines: dict[float, list] = {}
    for h, k, l_ in np.ndindex(9, 9, 9):
        hkl = (h - 4, k - 4, l_ - 4)
        if hkl == (0, 0, 0) or d_mono(*hkl) < 1.6:
            continue
        lines.setdefault(round(d_mono(*hkl), 9), []).append(hkl)
    expected = []
    for key in sorted(lines, reverse=True):
        members = lines[key]
        tt = _bragg(d_mono(*members[0]))
        hkl = max(members, key=lambda m: (-sum(i < 0 for i in m), m))
        expected.append((hkl, tt, len(members), len(members) * _f("Cu", tt) ** 2 * _lp(tt)))
    assert [e[0] for e in expected[:4]] == [(0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0)]
    assert {len(m) for m in lines.values()} == {2, 4}
    peaks = compute_peaks_pm(cu, two_theta_range=(0, _bragg(1.6)))
    assert len(peaks) == len(expected)
    _check_lines(peaks, expected)


# ---------------------------------------------------------------------------- invariants


def test_atom_order_and_origin_shift_do_not_change_peaks(shared_data):
    rng = random.Random(7)
    for sid, structure in _mp20_sample(shared_data, 15, SEED + 2):
        ref = compute_peaks_pm(structure)
        sites = list(structure)
        rng.shuffle(sites)
        shift = [rng.random() for _ in range(3)]
        moved = Structure(
            structure.lattice,
            [site.species for site in sites],
            [np.asarray(site.frac_coords) + shift for site in sites],
        )
        other = compute_peaks_pm(moved)
        assert len(other) == len(ref), sid
        np.testing.assert_array_equal(other.two_theta, ref.two_theta)
        np.testing.assert_array_equal(other.hkl, ref.hkl)
        np.testing.assert_array_equal(other.multiplicity, ref.multiplicity)
        np.testing.assert_allclose(other.intensity, ref.intensity, rtol=1e-8, atol=1e-8)


def test_wavelength_presets_and_range_subset():
    nacl = _rock_salt()
    by_name = compute_peaks_pm(nacl, wavelength="MoKa1")
    by_value = compute_peaks_pm(nacl, wavelength=0.70930)
    np.testing.assert_array_equal(by_name.two_theta, by_value.two_theta)
    assert by_name.wavelength == 0.70930
    full = compute_peaks_pm(nacl, two_theta_range=(0, 120))
    part = compute_peaks_pm(nacl, two_theta_range=(40, 80))
    inside = (full.two_theta >= 40) & (full.two_theta <= 80)
    np.testing.assert_allclose(part.two_theta, full.two_theta[inside])
    np.testing.assert_allclose(part.intensity_raw, full.intensity_raw[inside], rtol=1e-12)
    assert part.intensity.max() == 100.0
    assert np.all(part.intensity > SCALED_INTENSITY_TOL)


def test_wider_merge_tolerance_joins_pseudo_equivalent_lines(shared_data):
    # MP-20 cells are symmetric only to ~7 digits: equivalent reflections spread over
    # up to ~1e-4°, so pymatgen's 1e-5° bins split some families; 1e-3° bins join them
    joined = 0
    for _, structure in _mp20_sample(shared_data, 20, SEED + 3):
        fine = compute_peaks_pm(structure)
        coarse = compute_peaks_pm(structure, merge_tolerance=1e-3)
        assert len(coarse) <= len(fine)
        joined += len(fine) - len(coarse)
        # merging moves no intensity (up to the dropped sub-1e-5 lines) and no line far
        assert coarse.intensity_raw.sum() == pytest.approx(fine.intensity_raw.sum(), rel=1e-3)
        strong = coarse.two_theta[coarse.intensity > MATCH_MIN_INTENSITY]
        gap = np.abs(strong[:, None] - fine.two_theta[None, :]).min(axis=1)
        assert gap.max() <= 1e-3
    assert joined > 0


@pytest.mark.parametrize("wavelength, two_theta_range", [(0.7093, (20, 179.9)), (0.3, (60, 70))])
def test_short_wavelengths_match_pymatgen(wavelength, two_theta_range):
    # Rb has the widest Gaussian (b = 141 Å^2): at 0.3 Å and 60-70° the kernel leaves the
    # exp recurrence (exponents could under/overflow) and calls exp directly; at 0.7093 Å
    # up to 179.9° (LP near its pole) it keeps the recurrence. Both must match pymatgen.
    rbcl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Rb", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    ours = compute_peaks_pm(rbcl, wavelength=wavelength, two_theta_range=two_theta_range)
    ref = XRDCalculator(wavelength=wavelength).get_pattern(
        rbcl, scaled=False, two_theta_range=two_theta_range
    )
    np.testing.assert_allclose(ours.two_theta, ref.x, atol=1e-9)
    np.testing.assert_allclose(ours.intensity_raw, ref.y, rtol=1e-9)


def test_empty_range_gives_empty_list():
    peaks = compute_peaks_pm(_rock_salt(), two_theta_range=(0.0, 5.0))
    assert len(peaks) == 0 and peaks.hkl.shape == (0, 3)


def test_peaklist_round_trip_and_read_only():
    peaks = compute_peaks_pm(_rock_salt())
    again = PeakList.from_dict(json.loads(json.dumps(peaks.to_dict())))
    for name in ("two_theta", "intensity", "intensity_raw", "d", "hkl", "multiplicity"):
        np.testing.assert_array_equal(getattr(again, name), getattr(peaks, name))
    assert again.hkl.dtype == np.int32 and again.multiplicity.dtype == np.int32
    with pytest.raises(ValueError):
        peaks.intensity[0] = 1.0
    with pytest.raises(ConfigError, match="rows"):
        PeakList(
            np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.zeros((3, 3)), np.zeros(2), 1.5
        )


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"two_theta_range": (90, 10)}, "ascending"),
        ({"two_theta_range": (-5, 10)}, "0 <= min"),
        ({"two_theta_range": (0, 200)}, "<= 180"),
        ({"two_theta_range": "wide"}, "two numbers"),
        ({"wavelength": 0.0}, "positive"),
        ({"wavelength": -1.5}, "positive"),
        ({"wavelength": "CuKz"}, "unknown wavelength"),
        ({"merge_tolerance": 0.0}, "merge_tolerance"),
        ({"merge_tolerance": 0.05}, "merge_tolerance"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        compute_peaks_pm(_rock_salt(), **kwargs)


def test_bad_structures_are_refused():
    with pytest.raises(StructureError, match="no sites"):
        compute_peaks_pm(Structure(Lattice.cubic(3.0), [], []))
    flat = Structure(Lattice([[3, 0, 0], [0, 3, 0], [3, 3, 0]]), ["Na"], [[0, 0, 0]])
    with pytest.raises(StructureError, match="volume"):
        compute_peaks_pm(flat)
    dummy = Structure(Lattice.cubic(3.0), [DummySpecies("X")], [[0, 0, 0]])
    with pytest.raises(StructureError, match="form-factor"):
        compute_peaks_pm(dummy)
    nacl = _rock_salt()
    nacl.add_site_property("b_iso", [-1.0] * len(nacl))
    with pytest.raises(StructureError, match="b_iso"):
        compute_peaks_pm(nacl)
    assert len(compute_peaks_pm(nacl, debye_waller=False)) > 0
