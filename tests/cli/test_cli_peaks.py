"""``xrdsim peaks`` / ``xrdsim peaks-info``: exit codes, summaries, default input, interrupts."""

from __future__ import annotations

import csv
import gzip
import json
import signal
import subprocess
import sys
import time

import h5py
import pytest
from click.testing import CliRunner
from xrdsim_cli import peaks as peaks_cli
from xrdsim_cli.main import cli

from xrdsim.peaks.database import PeakDatabase
from xrdsim.structures.crystal_systems import crystal_system_index

#: Seconds a subprocess run may take to create its temporary output (imports, listing).
START_TIMEOUT = 120


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory, test_data):
    out = tmp_path_factory.mktemp("cli") / "peaks.h5"
    result = _run("peaks", str(test_data / "cifs"), "-o", str(out), "--workers", "1",
                  "--wavelength", "CuKa1", "--two-theta-max", "90")
    assert result.exit_code == 0, result.output
    return out, result


def test_peaks_writes_and_summarises(good_db, test_data):
    out, result = good_db
    assert f"wrote {out}: 4 structure(s), 0 failed" in result.stdout
    with PeakDatabase(out) as db:
        assert db.attrs["wavelength"] == 1.54056 and db.attrs["two_theta_range"] == (0.0, 90.0)
        assert sorted(db.ids) == sorted(p.stem for p in (test_data / "cifs").glob("*.cif"))
        assert db.peaks(0).two_theta.max() <= 90.0


def test_peaks_info_text_and_json(good_db):
    out, _ = good_db
    text = _run("peaks-info", str(out))
    assert text.exit_code == 0
    assert "structures: 4   failed inputs: 0" in text.stdout
    assert "wavelength 1.54056 Å, 2θ 0.0–90.0°" in text.stdout
    info = json.loads(_run("peaks-info", str(out), "--json").stdout)
    # the autoxrd / dara file names end with the space group of the (symmetrized) CIF
    named = {"Li7La3Zr2O12_230": 230, "LiOH-H2O_12": 12, "NiO_225_sym": 225}
    with PeakDatabase(out) as db:
        labels = db.labels
        found = {sid: int(sg) for sid, sg in zip(labels["structure_id"], labels["space_group"],
                                                  strict=True)}
        n_peaks = labels["n_peaks"]
    assert {sid: found[sid] for sid in named} == named
    systems = [crystal_system_index(sg) for sg in found.values()]
    assert info["crystal_systems"]["cubic"] == systems.count(6) == 2
    assert info["n_structures"] == 4 and info["n_errors"] == 0
    assert info["peaks_per_structure"]["max"] == int(n_peaks.max())
    assert info["versions"]["h5py"] == h5py.__version__


def test_bad_inputs_exit_1_and_keep_the_good(tmp_path, test_data):
    out = tmp_path / "p.h5"
    bad = test_data / "bad"
    result = _run("peaks", str(bad / "unknown_element.cif"), str(bad / "zero_volume.cif"),
                  str(test_data / "cifs" / "NiO_225_sym.cif"), "-o", str(out), "--workers", "1")
    assert result.exit_code == 1
    assert "1 structure(s), 2 failed" in result.stdout
    assert "most common failure reasons:" in result.stdout
    listing = _run("peaks-info", str(out), "--errors")
    assert f"failed: {bad / 'unknown_element.cif'}: unknown element symbol 'Xx'" in listing.stdout
    with PeakDatabase(out) as db:
        assert db.ids.tolist() == ["NiO_225_sym"]
    quiet = _run("peaks", str(bad / "zero_volume.cif"), "-o", str(tmp_path / "q.h5"), "-q",
                 "--workers", "1")
    assert quiet.exit_code == 1 and quiet.stdout == ""
    assert "1 input(s) failed" in quiet.stderr


def test_json_summary(tmp_path, test_data):
    result = _run("peaks", str(test_data / "cifs" / "NiO_225_sym.cif"), "-o",
                  str(tmp_path / "p.h5"), "--workers", "1", "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (summary["n_structures"], summary["n_failed"], summary["n_inputs"]) == (1, 0, 1)


def test_usage_and_library_errors(tmp_path, test_data):
    nio = str(test_data / "cifs" / "NiO_225_sym.cif")
    existing = tmp_path / "p.h5"
    existing.write_bytes(b"keep me")
    refused = _run("peaks", nio, "-o", str(existing), "--workers", "1")
    assert refused.exit_code == 3 and "already exists" in refused.stderr
    assert existing.read_bytes() == b"keep me"
    # --overwrite replaces only a peak database (issue 30): not a file of something else
    foreign = _run("peaks", nio, "-o", str(existing), "--workers", "1", "--overwrite", "-q")
    assert foreign.exit_code == 3 and existing.read_bytes() == b"keep me"
    database = tmp_path / "db.h5"
    assert _run("peaks", nio, "-o", str(database), "--workers", "1", "-q").exit_code == 0
    assert _run("peaks", nio, "-o", str(database), "--workers", "1", "--overwrite",
                "-q").exit_code == 0
    assert _run("peaks", nio, "-o", str(tmp_path / "x.h5"), "--wavelength", "CuKz",
                "--workers", "1").exit_code == 3
    assert _run("peaks", nio, "-o", str(tmp_path / "x.h5"), "--two-theta-min", "50",
                "--two-theta-max", "10", "--workers", "1").exit_code == 3
    assert _run("peaks", nio, "-o", str(tmp_path / "x.h5"), "--workers", "0").exit_code == 2
    assert _run("peaks", nio).exit_code == 2  # -o is required
    missing = _run("peaks-info", str(tmp_path / "none.h5"))
    assert missing.exit_code == 3 and "does not exist" in missing.stderr
    assert _run("peaks-info", nio).exit_code == 3  # a CIF is not HDF5
    assert not (tmp_path / "x.h5").exists()


def test_help_lists_commands_default_input_and_exit_codes():
    top = _run("--help").stdout
    assert "peaks " in top and "peaks-info" in top
    text = _run("peaks", "--help").stdout
    assert "xrdsim/data/default_structures.csv.gz" in text and "Exit codes" in text


def test_no_input_uses_the_bundled_data(tmp_path, test_data, monkeypatch):
    small = test_data / "cifs" / "NiO_225_sym.cif"  # stands in for the 504-row default
    monkeypatch.setattr(peaks_cli, "default_input", lambda: small)
    result = _run("peaks", "-o", str(tmp_path / "p.h5"), "--workers", "1")
    assert result.exit_code == 0
    assert "no INPUT given: using the bundled" in result.stderr
    with PeakDatabase(tmp_path / "p.h5") as db:
        assert db.attrs["inputs"] == [str(small)]


def test_bundled_default_input_is_the_documented_sample():
    with gzip.open(peaks_cli.default_input(), "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    systems = [crystal_system_index(int(r["spacegroup_number_symprec0.1"])) for r in rows]
    assert len(rows) == 504 and all(systems.count(k) == 72 for k in range(7))


def test_interrupt_leaves_no_output(tmp_path):
    """Ctrl-C during a run: no file at the output path, no temporary file left."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        out = folder / "p.h5"
        proc = subprocess.Popen(
            [sys.executable, "-c", "from xrdsim_cli.main import cli; cli()", "peaks", "-o",
             str(out), "--workers", "1", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # A shell that runs jobs in the background starts them with SIGINT ignored, and
            # children inherit that; restore the default so Ctrl-C reaches the CLI as a
            # user's.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not list(folder.glob(".p.h5.partial-*")) and proc.poll() is None:
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        if proc.returncode == 0:
            # the signal came after the last write (the file is ~3 s partial; a loaded
            # machine can delay this process past it): a finished run, try again
            assert [p.name for p in folder.iterdir()] == ["p.h5"]
            continue
        assert list(folder.iterdir()) == []
        return
    pytest.fail("the interrupt never arrived while the file was being written (3 tries)")


_U_HOLDS_B = """data_nacl_u_holds_b
_cell_length_a 5.6402
_cell_length_b 5.6402
_cell_length_c 5.6402
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_U_iso_or_equiv
Na1 Na 0 0 0 1.25(3)
Cl1 Cl 0.5 0.5 0.5 0.98(2)
"""


def test_u_column_holding_b_is_an_error_record_unless_u_as_b(tmp_path):
    cif = tmp_path / "nacl.cif"
    cif.write_text(_U_HOLDS_B)
    out = tmp_path / "u.h5"
    result = _run("peaks", str(cif), "-o", str(out), "--workers", "1", "-q")
    assert result.exit_code == 1
    with PeakDatabase(out) as db:
        (source, reason), = db.errors
    assert source == str(cif) and "absurd displacement" in reason and "u_as_b" in reason
    fixed = tmp_path / "b.h5"
    assert _run("peaks", str(cif), "-o", str(fixed), "--workers", "1", "-q",
                "--u-as-b").exit_code == 0
    info = json.loads(_run("peaks-info", str(fixed), "--json").stdout)
    assert info["settings"]["scattering"] == {"form_factors": "waasmaier-kirfel",
                                              "anomalous": True, "ionic": True, "u_as_b": True}


def test_wavelength_outside_the_anomalous_table_is_a_usage_error(tmp_path, test_data):
    result = _run("peaks", str(test_data / "cifs"), "-o", str(tmp_path / "x.h5"),
                  "--wavelength", "0.05", "-q")
    assert result.exit_code == 3 and "anomalous" in result.output
