"""GSAS powder data files (issue 31, item 16) against real files of the GSAS-II repository:
the PbSO4 round-robin neutron scan (STD layout with counter numbers) and the head of an
11-BM synchrotron scan (FXYE, header with wavelength and time per step)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.errors import PatternReadError
from xrdsim.measured.gsas import bank_points, gsas_header
from xrdsim.measured.readers import read_pattern


@pytest.fixture
def gsas_dir(test_data):
    return test_data / "patterns" / "gsas"


def _fields(path):
    """The file's STD fields cut by hand: (counters, count) of every 8-column field."""
    lines = path.read_text().splitlines()[2:]
    return [(int(line[i:i + 2] or 1), int(line[i + 2:i + 8]))
            for line in lines for i in range(0, 80, 8) if line[i:i + 8].strip()]


def test_std_bank_of_the_pbso4_round_robin_scan(gsas_dir):
    path = gsas_dir / "PBSO4.CWN"
    with pytest.warns(UserWarning, match="1 line.* after the 2919 points"):
        m = read_pattern(path, fmt="gsas", wavelength=1.909)  # the title's 1.909 Å
    # the title states the scan: 10.0 to 155.9 degrees in steps of 0.05
    assert m.two_theta.size == 2919
    assert m.two_theta[0] == pytest.approx(10.0) and m.two_theta[-1] == pytest.approx(155.9)
    np.testing.assert_allclose(np.diff(m.two_theta), 0.05, atol=1e-9)
    fields = _fields(path)[:2919]
    counts = np.array([c for _, c in fields], dtype=float)
    counters = np.array([n for n, _ in fields], dtype=float)
    np.testing.assert_array_equal(m.intensity, counts)
    np.testing.assert_allclose(m.sigma, np.sqrt(counts / counters))  # variance = count / NCTR
    assert set(counters.astype(int)) == set(range(1, 11))  # 1 to 10 counters, as written
    assert (m.intensity[0], m.intensity[41], m.sigma[41] ** 2) == (220, 211, pytest.approx(105.5))
    assert m.intensity.max() == 2459 and m.two_theta[m.intensity.argmax()] == pytest.approx(54.95)
    assert m.metadata["bank_type"] == "STD" and m.metadata["ignored_lines"] == 1
    assert m.metadata["title"].startswith("10.0    0.05    155.9   CPD RRRR   PbSO4")
    assert m.wavelength == 1.909 and m.metadata["wavelength_source"] == "user"


def test_suffixes_pick_the_gsas_reader_and_the_wavelength_is_asked_for(gsas_dir, tmp_path):
    for suffix in (".gsa", ".GSS", ".gsas"):
        copy = shutil.copyfile(gsas_dir / "PBSO4.CWN", tmp_path / f"pbso4{suffix}")
        with pytest.warns(UserWarning):
            assert read_pattern(copy, wavelength=1.909).format == "gsas"
        with pytest.warns(UserWarning), pytest.raises(PatternReadError, match="no wavelength"):
            read_pattern(copy)


def test_prepare_reads_a_gsas_file_of_a_folder(gsas_dir, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copyfile(gsas_dir / "PBSO4.CWN", folder / "pbso4.gsa")
    result = CliRunner().invoke(cli, ["prepare", str(folder), "-o", str(tmp_path / "m.zarr"),
                                      "--wavelength", "1.909"])
    assert result.exit_code == 0, result.output
    assert "prepared 1 of 1 file(s)" in result.stdout
    assert "1 line(s) after the 2919 points" in result.stderr


def test_fxye_header_of_an_11bm_scan(gsas_dir):
    path = gsas_dir / "11bmb_8716_head.fxye"
    lines = path.read_text().splitlines()
    head = gsas_header(lines, str(path))
    assert head["wavelength"] == 0.413259 and head["counting_time_s"] == 0.2
    assert head["bank_type"] == "FXYE" and head["nchan"] == 49494
    assert head["start"] == pytest.approx(0.5) and head["step"] == pytest.approx(0.00099987)
    x, y, sigma, used = bank_points("FXYE", lines[head["banks"][0] + 1:], 10, str(path))
    assert used == 10
    assert (x[0], y[0], sigma[0]) == (pytest.approx(0.5), 505.41741, 32.809444)  # centidegrees
    assert (x[-1], y[-1]) == (pytest.approx(0.50899881), 533.585155)
    # the excerpt holds 10 of the 49,494 points its BANK record declares: refused, not cut
    with pytest.raises(PatternReadError, match=r"declares 49494 FXYE points but 10 lines.*"
                                               "truncated"):
        read_pattern(path)


@pytest.mark.parametrize(("bank", "reason"), [
    ("BANK 1 100 10 RALF 1000 5 0 0 ALT", "not constant-step"),
    ("BANK 1 100 10 CONST 1000 5 0 0 ALT", "ALT is not read"),
    ("BANK 1 1 1 CONST 1000 5 0 0", "2 to 1000000 points"),
    ("BANK 1 100 10 CONST 1000 -5 0 0", "step > 0"),
    ("BANK 1 100", "has 3 fields"),
])
def test_unreadable_bank_records_are_refused(tmp_path, bank, reason):
    path = tmp_path / "bad.gsa"
    path.write_text(f"title\n{bank}\n" + "     100" * 10 + "\n")
    with pytest.raises(PatternReadError, match=reason):
        read_pattern(path, wavelength=1.5406)


def test_a_file_without_bank_is_not_gsas(tmp_path):
    path = tmp_path / "notes.gsa"
    path.write_text("some notes\n1 2\n3 4\n")
    with pytest.raises(PatternReadError, match="no BANK record"):
        read_pattern(path, wavelength=1.5406)
