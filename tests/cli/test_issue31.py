"""Regression tests of the defects of issue 31 met on the command line, one or more per item."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from xrdsim_cli.main import cli

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
