"""A CSV's intended_space_group is checked by spglib: mismatches are error records."""

from __future__ import annotations

import csv

from xrdsim.peaks.database import PeakDatabase
from xrdsim.peaks.job import write_peak_database


def test_mismatched_intended_group_is_an_error_record_not_a_relabel(tmp_path, test_data):
    nio = (test_data / "cifs" / "NiO_225_sym.cif").read_text()
    table = tmp_path / "synth.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "intended_space_group", "cif"])
        writer.writerows([("right", 225, nio), ("wrong", 221, nio), ("none", "", nio),
                          ("bad", "x", nio)])
    write_peak_database([table], tmp_path / "p.h5", workers=1, progress=False)
    with PeakDatabase(tmp_path / "p.h5") as db:
        assert [str(s) for s in db.labels["structure_id"]] == ["right", "none"]
        assert list(db.labels["space_group"]) == [225, 225]
        reasons = dict(db.errors)
    assert reasons[f"{table}#wrong"].startswith(
        "intended space group 221 but spglib finds 225 at symprec 0.1 Å")
    assert "is not a space-group number" in reasons[f"{table}#bad"]
