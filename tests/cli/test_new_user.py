"""Regression tests of the defects a new user met (issue 15), one test per item."""

from __future__ import annotations

import shutil

from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.peaks.database import PeakDatabase


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_item13_same_named_cifs_in_two_folders_are_both_kept(tmp_path, test_data):
    nio = test_data / "cifs" / "NiO_225_sym.cif"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(nio, tmp_path / folder / nio.name)
    out = tmp_path / "p.h5"
    result = _run("peaks", tmp_path / "a", tmp_path / "b", "-o", out, "--workers", "1")
    assert result.exit_code == 0, result.output
    with PeakDatabase(out) as db:
        assert db.ids.tolist() == ["a/NiO_225_sym", "b/NiO_225_sym"]


def test_item13_a_true_duplicate_is_reported_with_its_path(tmp_path, test_data):
    folder = tmp_path / "Li7La3Zr2O12_230"
    folder.mkdir()
    cif = folder / "Li7La3Zr2O12_230.cif"
    shutil.copy(test_data / "cifs" / cif.name, cif)
    out = tmp_path / "p.h5"
    result = _run("peaks", cif, cif, "-o", out, "--workers", "1")
    assert result.exit_code == 1, result.output
    assert f"first seen in {cif})" in result.output  # the summary keeps the digits of paths
    with PeakDatabase(out) as db:
        assert db.ids.tolist() == ["Li7La3Zr2O12_230"]
        assert [s for s, _ in db.errors] == [str(cif)]
