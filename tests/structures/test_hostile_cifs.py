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
