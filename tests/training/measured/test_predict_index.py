"""``xrdsim predict --index`` and ``xrdsim.predict(..., index=True)``: the bundled model's
answer checked against an indexing of the same real file.

MnO.xy (autoxrd_examples; its CIF MnO_225.cif: Fm-3m, a = 4.444 Å) indexes to a conclusive
cF cell, so the checked answer is cubic with an F group first whatever the network says; a
flat noisy scan has no line to index, and the network's answer stands unchanged.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import training_store
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training.measured.checked import carries, check_ranking

import xrdsim
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import IndexingResult
from xrdsim.structures.crystal_systems import crystal_system_name

pytestmark = pytest.mark.usefixtures("one_torch_thread")
one_torch_thread = training_store.one_torch_thread

#: MnO_225.cif's cell edge, Å; a measured sample's cell agrees with its CIF to ~1 %.
MNO_A = 4.444


@pytest.fixture(scope="module")
def mno(shared_data):
    return shared_data / "patterns" / "autoxrd_examples" / "MnO.xy"


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A scan of counting noise on a flat background: no line to index."""
    x = np.arange(10.0, 80.0, 0.02)
    y = np.random.default_rng(5).poisson(300.0, x.size)
    path = tmp_path_factory.mktemp("flat") / "flat.xy"
    np.savetxt(path, np.column_stack([x, y]), fmt="%.4f")
    return path


@pytest.fixture(scope="module")
def report(mno, flat, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "p.json"
    result = CliRunner().invoke(cli, ["predict", str(mno), str(flat), "--wavelength", "CuKa",
                                      "--index", "--top-k", "5", "--json", str(out),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return result.stdout, json.loads(out.read_text())


def test_a_conclusive_cubic_cell_puts_cubic_and_an_f_group_first(report):
    text, data = report
    record = next(r for r in data["files"] if r["file"] == "MnO.xy")
    best = record["indexing"]["cells"][0]
    assert best["bravais_lattice"] == "cF" and best["conclusive"] and best["m20"] >= 10
    assert best["cell"][0] == pytest.approx(MNO_A, rel=0.01)
    checked = record["checked"]
    assert checked["backed"] == ["cubic"] and checked["crystal_systems"][0] == "cubic"
    network = [c["name"] for c in record["crystal_system"]["top_k"]]
    assert checked["agrees"] == (network[0] == "cubic")
    # the network's list, re-ordered, nothing added or lost
    assert sorted(checked["crystal_systems"]) == sorted(set(network) | {"cubic"})
    first = checked["space_groups"][0]
    f_groups = [g for g in record["space_group"]["top_k"]
                if g["symbol"].startswith("F") and crystal_system_name(g["label"]) == "cubic"]
    if f_groups:  # an F cubic group among the network's candidates comes first
        assert first == {"label": f_groups[0]["label"], "symbol": f_groups[0]["symbol"]}
    # both answers shown
    assert "indexing:         cubic cF" in text and "checked:          crystal system cubic" in text
    assert "crystal system:" in text


def test_no_solution_leaves_the_network_answer(report):
    text, data = report
    record = next(r for r in data["files"] if r["file"] == "flat.xy")
    assert record["indexing"]["cells"] == [] and record["indexing"]["reason"]
    checked = record["checked"]
    assert checked["agrees"] is None and checked["backed"] == []
    assert checked["crystal_systems"] == [c["name"] for c in record["crystal_system"]["top_k"]]
    assert "indexing:         no solution" in text


def test_python_api_checks_the_same_way(mno):
    two_theta, intensity = np.loadtxt(mno, unpack=True)
    result = xrdsim.predict(two_theta, intensity, wavelength="CuKa", top_k=5, index=True)
    assert result.indexing.best.bravais_lattice == "cF"
    assert result.checked.crystal_systems[0] == "cubic"
    assert result.checked.cell is result.indexing.best
    carried = [(g.label, g.name) for g in result.space_group
               if carries(result.indexing.best, g.label, g.name)]
    if carried:
        assert result.checked.space_groups[0] == carried[0]
    plain = xrdsim.predict(two_theta, intensity, wavelength="CuKa", top_k=5)
    assert plain.indexing is None and plain.checked is None
    assert plain.crystal_system == result.crystal_system


def test_space_groups_a_conclusive_cell_carries_rise_and_centring_decides(cell_solution):
    cf = dataclasses.replace(cell_solution("cubic", "cF", True), centring="F")
    # Fm-3m (225) is cF; Pm-3m (221) is cubic but P, refused by a decided F centring;
    # P6_3/mmc (194) and C2/m (12) are other systems
    assert carries(cf, 225, "Fm-3m") and not carries(cf, 221, "Pm-3m")
    assert not carries(cf, 194, "P6_3/mmc")
    assert carries(cell_solution("cubic", "cP", True), 225, "Fm-3m")  # P: centring left open
    result = IndexingResult(source="x", lines=type("L", (), {})(), solutions=(cf,),
                            reason=None, n_search_lines=20, stats={},
                            settings=IndexingSettings())
    groups = [(12, "C2/m"), (221, "Pm-3m"), (225, "Fm-3m")]
    checked = check_ranking(["monoclinic", "cubic", "orthorhombic"], groups, result)
    assert checked.crystal_systems == ("cubic", "monoclinic", "orthorhombic")
    assert checked.space_groups == ((225, "Fm-3m"), (12, "C2/m"), (221, "Pm-3m"))
    assert checked.backed == ("cubic",) and checked.agrees is False and checked.cell is cf
    assert check_ranking(["cubic"], groups, result).agrees is True
    none = check_ranking(["monoclinic", "cubic"], groups, None)
    assert none.agrees is None and none.cell is None
    assert none.crystal_systems == ("monoclinic", "cubic") and none.space_groups == tuple(groups)
