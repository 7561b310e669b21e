"""Mixing real and synthetic structures: ratio, round-robin over groups, recipe in manifests."""

from __future__ import annotations

import csv
import gzip
import json

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.dataset.manifest import describe_inputs
from xrdsim.errors import ConfigError
from xrdsim.structures.mix import mix_sources, recipe_path
from xrdsim.structures.sources import CifSource, iter_cif_sources


@pytest.fixture()
def synthetic_table(tmp_path, test_data):
    """A synth-style table: 3 crystals of 225, 1 of 230, 2 of 2 (real CIF texts)."""
    nio = (test_data / "cifs" / "NiO_225_sym.cif").read_text()
    llzo = (test_data / "cifs" / "Li7La3Zr2O12_230.cif").read_text()
    rows = [("s-225-0", 225, nio), ("s-225-1", 225, nio), ("s-225-2", 225, nio),
            ("s-230-0", 230, llzo), ("s-2-0", 2, nio), ("s-2-1", 2, nio)]
    path = tmp_path / "synth.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["material_id", "intended_space_group", "cif"])
        writer.writerows(rows)
    return path


def _rows(path):
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def test_ratio_and_round_robin_over_groups(tmp_path, test_data, synthetic_table):
    real = test_data / "cifs"
    n_real = sum(isinstance(s, CifSource) for s in iter_cif_sources(real))
    out = tmp_path / "mixed.csv.gz"
    recipe = mix_sources(out, real=[real], synthetic=[synthetic_table], ratio=4 / n_real)
    rows = _rows(out)
    synthetic = [r["material_id"] for r in rows if r["origin"] == "synthetic"]
    # rank 0 of groups 2, 225, 230 (shuffled), then rank 1 of group 2 or 225
    assert sorted(synthetic[:3]) == ["s-2-0", "s-225-0", "s-230-0"]
    assert synthetic[3] in ("s-2-1", "s-225-1")
    assert sum(r["origin"] == "real" for r in rows) == n_real == recipe["n_real"]
    assert recipe["n_synthetic"] == 4 and recipe["synthetic_space_groups"] == 3
    assert json.loads(recipe_path(out).read_text()) == recipe
    listed = [s for s in iter_cif_sources(out) if isinstance(s, CifSource)]
    assert [s.intended_space_group for s in listed if s.structure_id == "s-230-0"] == [230]


def test_too_few_synthetic_crystals_are_refused(tmp_path, test_data, synthetic_table):
    with pytest.raises(ConfigError, match="hold 6; generate more"):
        mix_sources(tmp_path / "m.csv.gz", real=[test_data / "cifs"],
                    synthetic=[synthetic_table], ratio=10.0)
    with pytest.raises(ConfigError, match="ratio must be >= 0"):
        mix_sources(tmp_path / "m.csv.gz", real=[test_data / "cifs"],
                    synthetic=[synthetic_table], ratio=-1.0)


def test_build_inputs_carry_the_recipe(tmp_path, test_data, synthetic_table):
    out = tmp_path / "mixed.csv.gz"
    result = CliRunner().invoke(cli, ["mix", "-o", str(out), "--real",
                                      str(test_data / "cifs"), "--synthetic",
                                      str(synthetic_table), "--ratio", "0.5", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (entry,) = describe_inputs([out])
    assert entry["mix"]["ratio"] == 0.5
    assert entry["mix"]["synthetic"][0]["path"] == str(synthetic_table)
