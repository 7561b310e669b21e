"""Regression tests of the defects of issue 31 met on the command line, one or more per item."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))
TEST_DATA = Path(__file__).resolve().parents[1] / "data"


def _run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def test_item31_09_simulate_help_names_the_files_it_writes_and_every_preset(tmp_path):
    from xrdsim.simulation.config import PRESETS

    help_text = " ".join(_run("simulate", "--help").output.split())
    for preset in PRESETS:
        assert preset in help_text.split("Preset (")[1].split(")")[0]
    template = re.search(r"OUT_<config>_view_<k>\.xy", help_text)
    assert template, help_text
    out = tmp_path / "nio.xy"
    result = _run("simulate", "--cif", TEST_DATA / "cifs" / "NiO_225_sym.cif", "--config",
                  "das2025", "--config", "train", "--views", "2", "-o", out)
    assert result.exit_code == 0, result.output
    expected = {f"nio_{c}_view_{k}.xy" for c in ("das2025", "train") for k in (0, 1)}
    assert {p.name for p in tmp_path.iterdir()} == expected
    assert "nio_das2025_view_0.xy" in help_text


def test_item31_08_build_names_the_failure_reasons_and_where_to_see_them(tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("this is no CIF\n")
    out = tmp_path / "d.zarr"
    result = _run("build", TEST_DATA / "cifs" / "NiO_225_sym.cif", bad, "-o", out,
                  "--views-train", "1", "--views-test", "1", "--workers", "1", "--quiet",
                  "--manifest-dir", tmp_path)
    assert result.exit_code == 1, result.output
    assert "1 input(s) failed; most common reasons:" in result.stderr
    assert "1  not a CIF: no 'data_' block header" in result.stderr
    assert f"every failure: xrdsim peaks-info {out}.peaks.h5 --errors" in result.stderr


def test_item31_04_an_unreachable_scheduler_is_one_line_and_exit_3(tmp_path, monkeypatch):
    import socket

    from xrdsim import parallel

    monkeypatch.setattr(parallel, "SCHEDULER_TIMEOUT_S", 2.0)
    with socket.socket() as sock:  # a free local port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(cli, ["build", str(TEST_DATA / "cifs" / "NiO_225_sym.cif"),
                                      "-o", str(tmp_path / "d.zarr"), "--quiet",
                                      "--scheduler", f"tcp://127.0.0.1:{port}",
                                      "--manifest-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the dask scheduler "
                                                   f"'tcp://127.0.0.1:{port}' within 2 s")


def test_item31_06_an_input_folder_with_nothing_to_read_is_exit_2_everywhere(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sub").mkdir()  # an empty sub-folder holds nothing either
    run = tmp_path / "run"
    run.mkdir()
    synth = tmp_path / "synth.csv.gz"
    synth.write_bytes(b"")
    commands = {
        "prepare": ["prepare", empty, "-o", tmp_path / "p.zarr"],
        "predict": ["predict", "--model", run, empty],
        "hand predict": ["hand", "predict", run, empty],
        "peaks": ["peaks", empty, "-o", tmp_path / "p.h5"],
        "build": ["build", empty, "-o", tmp_path / "d.zarr", "--manifest-dir", tmp_path],
        "mix": ["mix", "-o", tmp_path / "m.csv.gz", "--real", empty, "--synthetic", synth,
                "--ratio", "1"],
    }
    for name, args in commands.items():
        result = _run(*args)
        assert result.exit_code == 2, (name, result.output)
        assert f"{empty}: folder holds no" in result.output, (name, result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "run", "synth.csv.gz"]


def test_item31_03_structure_folders_are_searched_with_their_sub_folders(tmp_path):
    from xrdsim.structures.sources import iter_cif_sources

    for sub in ("aflow", "avogadro"):
        (tmp_path / "extra" / sub).mkdir(parents=True)
    (tmp_path / "extra" / "aflow" / "NiO.cif").write_text(
        (TEST_DATA / "cifs" / "NiO_225_sym.cif").read_text())
    (tmp_path / "extra" / "avogadro" / "LiOH.cif").write_text(
        (TEST_DATA / "cifs" / "LiOH-H2O_12.cif").read_text())
    (tmp_path / "extra" / "sources.json").write_text("{}")
    ids = [s.structure_id for s in iter_cif_sources([tmp_path / "extra"])]
    assert ids == ["NiO", "LiOH"]


def test_item31_03_mix_reports_an_input_that_contributes_nothing(tmp_path):
    real = tmp_path / "extra" / "aflow"
    real.mkdir(parents=True)
    (real / "NiO.cif").write_text((TEST_DATA / "cifs" / "NiO_225_sym.cif").read_text())
    (real / "broken.cif").write_text("")  # an empty file: listed as unreadable
    out = tmp_path / "m.csv.gz"
    result = _run("mix", "-o", out, "--real", tmp_path / "extra", "--synthetic",
                  TEST_DATA / "cifs" / "NiO_225_sym.cif", "--ratio", "0")
    assert result.exit_code == 1, result.output
    assert "wrote" in result.stdout and "1 real + 0 synthetic" in result.stdout
    assert f"failed: {real / 'broken.cif'}: " in result.stderr


def test_item31_07_pattern_warnings_name_the_file_once_and_real_options(tmp_path, shared_data,
                                                                          capsys):
    from xrdsim_cli._common import echo_warning

    from xrdsim.measured.readers import read_pattern

    mno = (shared_data / "patterns" / "autoxrd_examples" / "MnO.xy").read_text().splitlines()
    rows = [ln for ln in mno if ln.strip() and ln.strip()[0].isdigit()]
    x, y = rows[0].split()[:2]
    scan = tmp_path / "neg.xy"  # one negative count: the reader warns
    scan.write_text("\n".join([f"{x} -5"] + rows[1:]) + "\n")
    with pytest.warns(UserWarning) as caught:
        read_pattern(scan, wavelength="CuKa")
    message = str(caught[0].message)
    assert "--clip-negative" in message and "prepare_pattern(clip_negative=True)" in message
    echo_warning(str(scan), message)
    printed = capsys.readouterr().err
    assert printed.count(str(scan)) == 1 and printed.startswith(f"warning: {scan}: ")

    from test_new_user import _hand_model

    result = _run("hand", "predict", _hand_model(tmp_path), scan, "--wavelength", "CuKa")
    assert result.exit_code == 0, result.output
    assert f"warning: {scan}: 1 negative intensities" in result.stderr
    assert "UserWarning" not in result.output and ".py:" not in result.stderr


def test_item31_14_both_space_group_rankings_are_labelled():
    from xrdsim_cli.predict import space_group_lines

    sg = {"prediction": 225, "symbol": "Fm-3m",
          "top_k": [{"label": 139, "symbol": "I4/mmm", "probability": 0.2},
                    {"label": 194, "symbol": "P6_3/mmc", "probability": 0.15}]}
    text = space_group_lines(sg, "139 I4/mmm 0.200, 194 P6_3/mmc 0.150")
    assert "225 Fm-3m    (SG head of the predicted crystal system)" in text
    assert "by p(cs)·p(sg|cs): [139 I4/mmm" in text
    assert "(225 ranks lower: its crystal system is not certain)" in text
    sg["top_k"][1]["label"] = 225
    assert "ranks lower" not in space_group_lines(sg, "")
