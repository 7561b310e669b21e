"""Hostile simulation configs are refused with exit 3 and the parameter's name (20, 24, 25)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.config_files import MAX_CONFIG_BYTES, parse_config_text
from xrdsim.errors import ConfigError, brief
from xrdsim.simulation.config import load_config
from xrdsim.simulation.ops import OPS

CASES = [
    ("sim_W_1e60.yaml", r"profile\.W .*\[-10\.0, 10\.0\]"),
    ("sim_W_1e3.yaml", r"profile\.W .*\[-10\.0, 10\.0\]"),
    ("sim_tail_cutoff_string.yaml", r"profile\.tail_cutoff: expected a finite number"),
    ("sim_wavelength_list.yaml", r"wavelength: expected a number"),
    ("sim_anode_list.yaml", r"doublet\.anode: expected a name"),
    ("sim_randint_huge.yaml", r"impurity\.count .*\[0\.0, 1000\.0\]"),
    ("sim_not_utf8.yaml", r"not UTF-8"),
    ("sim_alias_bomb.yaml", r"more than 100000 values once its YAML aliases are expanded"),
    ("sim_deep.json", r"nested deeper than"),
    ("sim_deep.yaml", r"nested deeper than"),
    ("sim_scan_start_150.yaml", r"scan_range\.start can reach 150\.0°, at or past the end of "
                                r"the model grid \(120° 2θ\)"),
    ("sim_final_crop_low_130.yaml", r"final_crop\.low can reach 130\.0°"),
]


@pytest.mark.parametrize(("name", "match"), CASES)
def test_hostile_config_is_refused_by_name(hostile_data, name, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_config(hostile_data / "configs" / name)
    assert len(str(info.value)) < 400  # nothing unbounded is formatted into the message


@pytest.mark.parametrize("name", [c[0] for c in CASES[:4]] + ["sim_alias_bomb.yaml"])
def test_cli_exits_3_without_traceback(hostile_data, name, tmp_path):
    cif = tmp_path / "x.cif"
    cif.write_text("data_x\n")
    result = CliRunner().invoke(cli, ["simulate", "--cif", str(cif), "--config",
                                      str(hostile_data / "configs" / name), "-o",
                                      str(tmp_path / "o.npy")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and result.output.startswith("error:")


def test_every_parameter_has_a_finite_physical_range():
    for op in OPS:
        for p in op.params:
            assert -1e12 <= p.lo < p.hi <= 1e12, f"{op.name}.{p.name}"


def test_size_cap_and_brief_messages(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="refused unread"):
        load_config(big)
    with pytest.raises(ConfigError, match="refers to itself|not valid"):
        parse_config_text("a: &a [*a]\n", suffix=".yaml", source="t")
    shared = ["x" * 1000] * 10
    nested = [shared] * 10
    assert len(brief([nested] * 10)) <= 80
