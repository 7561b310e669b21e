"""CLI numbers of `synth` and `sources` checked before any work (issue 30, item 7)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli


@pytest.mark.parametrize(("args", "match"), [
    (["--per-space-group", "1000000000"], "more than the 10,000,000"),
    (["--per-space-group", "1", "--space-groups", "1-1000000000000"], "must lie in 1-230"),
    (["--per-space-group", "1", "--composition", "Xx4"], "Xx0\\+ is not an element"),
    (["--per-space-group", "1", "--seed", "-5"], "seed must be a whole number"),
    (["--per-space-group", "1", "--symprec", "nan"], "symprec"),
])
def test_synth_refuses_bad_numbers_at_once(tmp_path, args, match):
    result = CliRunner().invoke(cli, ["synth", "-o", str(tmp_path / "s.csv.gz"), *args])
    assert result.exit_code in (2, 3), result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(
        result.exception, SystemExit)
    import re

    assert re.search(match, result.output), result.output
    assert not (tmp_path / "s.csv.gz").exists()


def test_sources_refuses_nan_symprec_and_a_binary_dedupe_file(tmp_path):
    result = CliRunner().invoke(cli, ["sources", "-o", str(tmp_path / "x"), "--symprec", "nan"])
    assert result.exit_code == 3 and "symprec must be a distance" in result.output
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    result = CliRunner().invoke(cli, ["sources", "-o", str(tmp_path / "y"), "--dedupe",
                                      str(binary)])
    assert result.exit_code == 3 and "not a readable UTF-8 CSV" in result.output, result.output
