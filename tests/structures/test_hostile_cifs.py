"""Hostile CIFs: nothing is silently read as another structure; costs are capped (22, 23, 31)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from xrdsim.peaks import job
from xrdsim.peaks.database import PeakDatabase
from xrdsim.peaks.job import write_peak_database
from xrdsim.structures.reader import read_structures

REFUSED = {
    "element_Uuo.cif": r"unknown element symbol 'Uuo'",
    "element_Nn.cif": r"unknown element symbol 'Nn'",
    "occupancy_negative.cif": r"occupancy '-1' is not a number in \(0, 1\]",
    "occupancy_nan.cif": r"occupancy 'nan'",
    "coordinate_double_minus.cif": r"fractional coordinate z = '--1'",
    "coordinate_dot.cif": r"fractional coordinate y = '\.'",
    "loop_header_deleted.cif": r"malformed CIF",
    "symmetry_ops_malformed.cif": r"malformed symmetry operator 'x, y\+1/2 z\+1/2'",
    "huge_cell_many_sites.cif": r"too costly: .*refused before expanding",
    "fast_reader_quadratic_rows.cif": r"up to 21120 sites .*refused before expanding",
    "operators_300.cif": r"300 distinct symmetry operators .*refused before expanding",
    "edge_0p7.cif": r"edge 0\.7 Å is below 1\.0 Å",
    "short_translation_0p68.cif": r"lattice translation of 0\.679 Å \(< 1\.0 Å\)",
}


@pytest.mark.parametrize(("name", "match"), sorted(REFUSED.items()))
def test_damaged_cif_is_an_error_record(hostile_data, name, match):
    (out,) = list(read_structures(hostile_data / "cifs" / name))
    assert not hasattr(out, "structure"), f"{name} was accepted as {out}"
    assert re.search(match, out.reason), out.reason


@pytest.mark.parametrize("name", ["good_nacl.cif", "cr_only_line_endings.cif"])
def test_sound_cifs_read_as_nacl(hostile_data, name):
    (rec,) = list(read_structures(hostile_data / "cifs" / name))
    assert rec.structure.composition.reduced_formula == "NaCl" and len(rec.structure) == 8


def test_declared_space_group_checked_in_the_peak_stage(hostile_data, tmp_path):
    cifs = hostile_data / "cifs"
    names = ["good_nacl.cif", "space_group_mismatch.cif", "symmetry_ops_missing.cif"]
    write_peak_database([str(cifs / n) for n in names], tmp_path / "p.h5", progress=False)
    with PeakDatabase(tmp_path / "p.h5") as db:
        errors = dict(db.errors)
        labels = db.labels
    lost = errors[str(cifs / "symmetry_ops_missing.cif")]
    assert "declares space group 225 but the expanded structure has only the symmetry of 221" \
        in lost
    # a structure with more symmetry than declared is kept; both numbers are recorded
    assert sorted(zip(labels["declared_space_group"].tolist(), labels["space_group"].tolist(),
                      strict=True)) == [(221, 225), (225, 225)]


def test_time_and_work_budgets_are_error_records(hostile_data, tmp_path, monkeypatch):
    good = str(hostile_data / "cifs" / "good_nacl.cif")
    monkeypatch.setattr(job, "MAX_PEAK_WORK", 10.0)
    write_peak_database([good], tmp_path / "a.h5", progress=False)
    with PeakDatabase(tmp_path / "a.h5") as db:
        assert "too costly" in db.errors[0][1] and len(db) == 0
    monkeypatch.undo()
    monkeypatch.setattr(job, "STRUCTURE_SECONDS", 1e-6)
    write_peak_database([good], tmp_path / "b.h5", progress=False)
    with PeakDatabase(tmp_path / "b.h5") as db:
        assert "time budget" in db.errors[0][1]


def test_folder_records_fifos_and_bad_links(hostile_data, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.cif").write_text((hostile_data / "cifs" / "good_nacl.cif").read_text())
    os.mkfifo(folder / "pipe.cif")
    os.symlink(folder / "gone.cif", folder / "dangling.cif")
    os.symlink(folder / "loop.cif", folder / "loop.cif")
    out = {Path(x.source).name: getattr(x, "reason", "ok") for x in read_structures(folder)}
    assert out["a.cif"] == "ok"
    assert "FIFO" in out["pipe.cif"]
    assert "dangling or loops" in out["dangling.cif"] and "dangling or loops" in out["loop.cif"]


@pytest.mark.parametrize(("number", "order"), [
    (1, 1), (2, 2), (14, 4), (62, 8), (139, 32), (166, 36), (194, 24), (225, 192), (227, 192),
    (230, 96),
])
def test_group_order_is_the_conventional_cell_operation_count(number, order):
    """International Tables: general-position multiplicity of the conventional cell (R
    groups in hexagonal axes), which the symmetry-loss check compares."""
    from xrdsim.structures.cif_checks import group_order

    assert group_order(number) == order


@pytest.mark.parametrize("name", ["fast_reader_quadratic_rows.cif", "operators_300.cif",
                                  "huge_cell_many_sites.cif"])
def test_fast_reader_refuses_costly_files_before_any_array(hostile_data, name):
    """The cost bounds come from the file's numbers before the fast path builds an array:
    the 6.5 KB Fm-3m file once reached gigabytes in (rows × operators × rows) arrays."""
    import tracemalloc

    from xrdsim.structures.fast_cif import parse_cif_fast
    from xrdsim.structures.sources import iter_cif_sources

    (source,) = list(iter_cif_sources([hostile_data / "cifs" / name]))
    tracemalloc.start()
    try:
        assert parse_cif_fast(source) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak


def _supercell_cif(n: int, a0: float = 2.9) -> str:
    """An n×n×n supercell of a 1-atom cubic cell, each atom moved by up to a quarter of
    the spacing (seeded), so the cell is a genuine P1 structure of n³ sites."""
    import numpy as np

    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    frac = ((grid + rng.uniform(-0.25, 0.25, grid.shape)) / n) % 1.0
    rows = "\n".join(f"Fe{i} Fe {x:.6f} {y:.6f} {z:.6f} 1" for i, (x, y, z) in enumerate(frac))
    edge = a0 * n
    return (f"data_super\n_cell_length_a {edge}\n_cell_length_b {edge}\n_cell_length_c {edge}\n"
            "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
            "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\nloop_\n_atom_site_label\n"
            "_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
            f"_atom_site_fract_z\n_atom_site_occupancy\n{rows}\n")


def test_fast_reader_memory_is_flat_in_the_site_count():
    """1,000 sites: the fast path once built (sites × sites × 27 × 3) float64 arrays
    (1.9 GB peak RSS); blocks of BLOCK_ELEMENTS and a k-d tree keep it to megabytes, and
    it reads the same sites as pymatgen."""
    import tracemalloc

    from xrdsim.structures.fast_cif import parse_cif_fast
    from xrdsim.structures.reader import parse_cif
    from xrdsim.structures.sources import CifSource

    source = CifSource("super.cif", "super", _supercell_cif(10))
    tracemalloc.start()
    try:
        record = parse_cif_fast(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record is not None and len(record.structure) == 1000
    assert peak < 64 * 2**20, peak
    full = parse_cif(source).structure
    assert len(full) == 1000
    import numpy as np

    assert np.allclose(np.sort(record.structure.frac_coords, axis=0),
                       np.sort(full.frac_coords % 1.0, axis=0), atol=1e-9)


def test_peak_memory_budget_is_an_error_record(hostile_data, tmp_path, monkeypatch):
    """The per-structure memory budget is computed from the structure's numbers in the
    worker before the kernel runs, so it holds in dask workers as in-process."""
    monkeypatch.setattr(job, "MAX_STRUCTURE_BYTES", 1e3)
    good = str(hostile_data / "cifs" / "good_nacl.cif")
    write_peak_database([good], tmp_path / "m.h5", progress=False)
    with PeakDatabase(tmp_path / "m.h5") as db:
        assert "per-structure memory budget" in db.errors[0][1] and len(db) == 0


def test_a_lost_worker_task_is_an_error_record_for_its_chunk_only():
    """A chunk whose dask worker died (``KilledWorker``) becomes error records; the batch
    goes on (``run_tasks(on_error=...)``, as the peak stage calls it)."""
    from xrdsim.errors import StructureError

    chunk = job._Chunk((StructureError("a.cif", "x"), StructureError("b.cif", "y")), 1.5418,
                       (0.0, 120.0), 0.1, fast=True, u_as_b=False)
    lost = job._chunk_lost(chunk, RuntimeError("KilledWorker"))
    assert [r[:2] for r in lost] == [("error", "a.cif"), ("error", "b.cif")]
    assert all("worker died" in r[2] for r in lost)


def test_peaks_overwrite_never_replaces_an_input_or_a_foreign_file(hostile_data, tmp_path):
    from xrdsim.errors import DatasetError

    cif = tmp_path / "a.cif"
    cif.write_text((hostile_data / "cifs" / "good_nacl.cif").read_text())
    with pytest.raises(DatasetError, match="never replaces an input"):
        write_peak_database([str(cif)], cif, overwrite=True, progress=False)
    other = tmp_path / "notes.h5"
    other.write_bytes(b"my own data")
    with pytest.raises(DatasetError, match="not written by `xrdsim peaks`"):
        write_peak_database([str(cif)], other, overwrite=True, progress=False)
    assert other.read_bytes() == b"my own data" and "NaCl" in cif.read_text()
    write_peak_database([str(cif)], tmp_path / "p.h5", progress=False)
    write_peak_database([str(cif)], tmp_path / "p.h5", overwrite=True, progress=False)
