"""The lattice_strain op against pymatgen and spglib on real MP-20 structures.

A strained line must sit where pymatgen's powder calculator puts it for the crystal
rebuilt with the strained cell (same atoms, same fractional coordinates in spglib's
standardised cell), and spglib must find the same space group in that crystal: the
strain changes lattice parameters, never the symmetry the label describes.
"""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import spglib
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from xrdsim import PeakDatabase, write_peak_database
from xrdsim.simulation import crystal_kernel as CK
from xrdsim.simulation import lines_kernel as LK
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.kernel_inputs import kernel_arguments
from xrdsim.simulation.sampling import draw_matrix
from xrdsim.structures.crystal_systems import crystal_system_index
from xrdsim.structures.symmetry import spglib_cell

PER_SYSTEM = 2
WAVELENGTH = 1.5406


@pytest.fixture(scope="module")
def crystals(tmp_path_factory, shared_data):
    """(peak database path, {structure id: pymatgen Structure}) of 2 small structures per
    crystal system, each symmetric to 10⁻³ Å."""
    with gzip.open(shared_data / "structures" / "mp20_test.csv.gz", "rt") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["num_atoms"]) <= 8]
    picked, seen = [], {}
    for r in rows:
        number = int(r["spacegroup_number_symprec0.1"])
        cs = int(crystal_system_index(number))
        if seen.get(cs, 0) < PER_SYSTEM and _exact_symmetry(r["cif"]) == number:
            seen[cs] = seen.get(cs, 0) + 1
            picked.append(r)
    assert sorted(seen) == list(range(7))
    folder = tmp_path_factory.mktemp("strain")
    with open(folder / "picked.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(picked[0]))
        w.writeheader()
        w.writerows(picked)
    write_peak_database([folder / "picked.csv"], folder / "peaks.h5", wavelength=WAVELENGTH,
                        two_theta_range=(5.0, 90.0), progress=False)  # fmt: skip
    structures = {r["material_id"]: Structure.from_str(r["cif"], fmt="cif") for r in picked}
    return folder / "peaks.h5", structures


def _exact_symmetry(cif: str) -> int:
    """spglib's space group at 10⁻³ Å: a cell that already has its label's symmetry, so
    its lines are those of the symmetrised crystal the test rebuilds."""
    structure = Structure.from_str(cif, fmt="cif")
    return int(spglib.get_symmetry_dataset(spglib_cell(structure), symprec=1e-3).number)


def _strained_lines(db, i, amplitude):
    """Kα1 lines (2θ, hkl) of structure i under the strain of pattern key (i, view 0),
    and the strained reciprocal metric G*′ the kernel used."""
    cfg = SimulationConfig.from_dict(
        {"wavelength": WAVELENGTH, "ops": {"lattice_strain": {"amplitude": amplitude}}})
    batch = db.ragged([i], hkl=True)
    args = kernel_arguments(batch.two_theta, batch.intensity, batch.offsets, cfg,
                            lambda c, e, k: draw_matrix(c, e, 0, k), seed=0,
                            structure_keys=np.array([i]), views=np.array([0]), hkl=batch.hkl,
                            cells=db.cells([i]))  # fmt: skip
    n = batch.two_theta.size
    lx, ly = np.empty(LK.LINES_PER_PEAK * n), np.empty(LK.LINES_PER_PEAK * n)
    nl = LK.make_lines(args, 0, n, args.params[0], args.keys[0], lx, ly)
    draws = np.empty(CK.N_STRAIN_DRAWS)
    CK.strain_draws(args.keys[0], amplitude, draws)
    metric = np.empty(9)
    CK.strained_metric(args.gs[0], args.mask[0], args.ops, draws, metric)
    return lx[:nl], metric.reshape(3, 3)


def _crystal(structure, cell_or_metric):
    """``structure``'s atoms in spglib's standardised cell, that cell given as (6,) lattice
    parameters or as a (3, 3) reciprocal metric G*."""
    data = spglib.get_symmetry_dataset(spglib_cell(structure), symprec=0.1)
    if np.shape(cell_or_metric) == (3, 3):
        g = np.linalg.inv(cell_or_metric)
        a, b, c = np.sqrt(np.diag(g))
        cell = (a, b, c, *np.degrees(np.arccos(
            [g[1, 2] / (b * c), g[0, 2] / (a * c), g[0, 1] / (a * b)])))
    else:
        cell = cell_or_metric
    types = spglib_cell(structure)[2]
    species = [structure[int(np.argmax(types == t))].species for t in data.std_types]
    return Structure(Lattice.from_parameters(*cell), species, data.std_positions)


def _nearest_gap(x, lines):
    return np.abs(np.asarray(x)[:, None] - np.asarray(lines)[None, :]).min(axis=1)


def test_strained_lines_are_those_of_the_strained_crystal(crystals):
    path, structures = crystals
    calc = XRDCalculator(wavelength=WAVELENGTH)
    with PeakDatabase(path) as db:
        for i, sid in enumerate(db.ids):
            x, gstar = _strained_lines(db, i, 0.04)
            peaks = db.ragged([i])
            assert x.size == peaks.two_theta.size  # Kα1 only, none past 120°: line i is peak i
            # pymatgen drops lines below 10⁻³ of its strongest, and the strain moves
            # intensities a little (Lorentz–polarisation, form factors): compare lines of ≥ 1 %
            strong = peaks.intensity >= 1.0
            tt, x = peaks.two_theta[strong], x[strong]
            ideal = _crystal(structures[sid], db.cells([i])[0])
            strained = _crystal(structures[sid], gstar)
            # same space group: the strain kept the symmetry of the label
            number = spglib.get_symmetry_dataset(spglib_cell(strained), symprec=0.1).number
            assert number == int(db.labels["space_group"][i]), sid
            # the cell did change, by about ε
            change = np.array(strained.lattice.abc) / np.array(ideal.lattice.abc) - 1.0
            assert 1e-3 < np.abs(change).max() < 0.15, (sid, change)
            # the lines of the crystal as given are those of the symmetrised one, and
            # strained, they sit on pymatgen's lines of the strained crystal
            assert _nearest_gap(tt, calc.get_pattern(ideal, two_theta_range=(0, 120)).x).max(
                ) < 1e-3, sid
            want = calc.get_pattern(strained, two_theta_range=(0, 120)).x
            gap = _nearest_gap(x, want)
            assert gap.max() < 1e-3, (sid, gap.max())
