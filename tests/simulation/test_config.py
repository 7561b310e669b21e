"""Simulation configs: loading, validation, round trips, presets, disjointness."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import yaml

from xrdsim.errors import ConfigError, ConfigOverlapError
from xrdsim.simulation.config import Distribution, SimulationConfig, load_config
from xrdsim.simulation.disjoint import check_disjoint
from xrdsim.simulation.layout import ITEM_SLOTS, OP_ORDER, PARAM_SLOTS
from xrdsim.simulation.ops import LATE_OPS, OPS


def _train() -> dict:
    return copy.deepcopy(load_config("train").to_dict())


def _with(data: dict, op: str, **kw) -> dict:
    data = copy.deepcopy(data)
    data["ops"].setdefault(op, {}).update(kw)
    return data


@pytest.mark.parametrize("name", ["das2025", "train", "invariance"])
def test_presets_load_and_round_trip(name, tmp_path):
    cfg = load_config(name)
    assert cfg.name == name
    assert SimulationConfig.from_dict(cfg.to_dict()) == cfg
    # the same dict written as YAML, JSON and TOML loads to the same config
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    (tmp_path / "c.json").write_text(json.dumps(cfg.to_dict()))
    assert load_config(tmp_path / "c.yaml") == cfg
    assert load_config(str(tmp_path / "c.json")) == cfg


def test_toml_config(tmp_path):
    (tmp_path / "c.toml").write_text(
        'name = "t"\nwavelength = "CuKa1"\n[ops.zero_shift]\ndelta = {uniform = [-0.01, 0.01]}\n'
        '[ops.binning]\nmode = "mean"\n[ops.impurity]\ncount = {randint = [1, 2]}\n'
        "intensity = 0.02\n"
    )
    cfg = load_config(tmp_path / "c.toml")
    assert cfg.wavelength == pytest.approx(1.54056)
    assert cfg.op("zero_shift").params["delta"] == Distribution("uniform", (-0.01, 0.01))
    assert cfg.op("binning").settings["mode"] == "mean"
    assert cfg.param_names() == ("zero_shift.delta", "impurity.count")
    assert not cfg.enabled("profile")


def test_kernel_slot_layout_follows_the_catalogue():
    assert OP_ORDER == tuple(op.name for op in OPS)
    # one column per per-pattern parameter, op order, late ops last (pinned: a column is
    # the counter of its random draw, so moving one changes every dataset's numbers)
    assert PARAM_SLOTS[:3] == ("mixture.phases", "mixture.fraction", "zero_shift.delta")
    assert PARAM_SLOTS[-1] == "lattice_strain.amplitude" and LATE_OPS == ("lattice_strain",)
    assert len(PARAM_SLOTS) == 38 and len(set(PARAM_SLOTS)) == 38
    assert ITEM_SLOTS == ("impurity.intensity", "amorphous.height", "amorphous.center",
                          "amorphous.fwhm", "amorphous.eta")


def test_das2025_is_table1_literally():
    cfg = load_config("das2025")
    p = {n: cfg.op(n.split(".")[0]).params[n.split(".")[1]] for n in cfg.param_names()}
    assert p["zero_shift.delta"].values == (-0.02, 0.02)
    assert p["position_noise.amplitude"].values == (-0.005, 0.005)
    assert p["peak_crop.low"].values == (0.0, 0.2) and p["peak_crop.high"].values == (100.0, 120.0)
    assert p["impurity.count"] == Distribution("randint", (0.0, 6.0))
    assert p["profile.eta"].values == (0.0, 1.0) and p["profile.rho"].values == (-1.0, 1.0)
    assert p["background_noise.amplitude"].values == (0.0, 0.05)
    assert p["background_noise.dilation"].values == (0.0, 10.0)
    assert p["final_crop.low"].values == (0.0, 24.0)
    assert cfg.op("binning").settings["mode"] == "mean"
    # every corner of the Caglioti box keeps the FWHM inside the paper's [0.005, 0.05]
    th = np.deg2rad(np.linspace(0, 60, 601))
    for u in p["profile.U"].values:
        for v in p["profile.V"].values:
            for w in p["profile.W"].values:
                for q in p["profile.P"].values:
                    f = np.sqrt(u * np.tan(th) ** 2 + v * np.tan(th) + w + q / np.cos(th) ** 2)
                    assert 0.005 <= f.min() and f.max() <= 0.05


@pytest.mark.parametrize(
    ("op", "change", "match"),
    [
        ("profile", {"eta": {"uniform": [0.2, 1.3]}}, r"profile\.eta .*\[0\.0, 1\.0\]"),
        ("profile", {"rho": 1.5}, r"profile\.rho"),
        ("profile", {"W": {"uniform": [0.003, 0.001]}}, r"lo < hi"),
        ("profile", {"W": -0.01}, r"FWHM² .* ≤ 0"),
        ("profile", {"U": "wide"}, r"profile\.U: expected a finite number, got 'wide'"),
        ("profile", {"U": True}, r"finite number"),
        ("profile", {"Eta": 0.3}, r"unknown parameter profile\.Eta.*did you mean 'eta'"),
        ("profile", {"tail_cutoff": 0.5}, r"tail_cutoff"),
        ("impurity", {"count": {"uniform": [0, 3]}}, r"integer parameter"),
        ("impurity", {"count": -1}, r"impurity\.count"),
        ("background_noise", {"amplitude": -0.1}, r"background_noise\.amplitude"),
        ("scan_range", {"start": {"uniform": [0, 115]}}, r"every start must lie below every end"),
        ("binning", {"mode": "median"}, r"'sum' or 'mean'"),
        ("binning", {"enabled": False}, r"cannot be switched off"),
        ("doublet", {"anode": "Cuu"}, r"did you mean 'Cu'"),
        ("zero_shift", {"delta": {"gaussian": [0, 1]}}, r"one of \{fixed"),
        ("zero_shift", {"delta": {"plusminus": [-1, 1]}}, r"0 <= lo < hi"),
        ("zero_shift", {"delta": {"choice": [0.1, 0.1]}}, r"distinct"),
        ("counting_noise", {"counts": 0.0}, r"counting_noise\.counts"),
    ],
)
def test_invalid_values_are_refused_with_names(op, change, match):
    with pytest.raises(ConfigError, match=match):
        SimulationConfig.from_dict(_with(_train(), op, **change))


def test_unknown_and_missing_names():
    data = _train()
    data["ops"]["zero_shfit"] = data["ops"].pop("zero_shift")
    with pytest.raises(ConfigError, match="unknown op 'zero_shfit'.*did you mean 'zero_shift'"):
        SimulationConfig.from_dict(data)
    data = _train()
    del data["ops"]["profile"]["W"]
    with pytest.raises(ConfigError, match=r"profile\.W .* is missing"):
        SimulationConfig.from_dict(data)
    with pytest.raises(ConfigError, match="did you mean 'wavelength'"):
        SimulationConfig.from_dict({"wavelenght": 1.5})
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config("trian")


def test_cross_op_checks():
    with pytest.raises(ConfigError, match="does not match the peak lists' wavelength 0.7107"):
        SimulationConfig.from_dict({"wavelength": "MoKa", "ops": {"doublet": {"ratio": 0.5}}})
    mo = {"wavelength": "MoKa", "ops": {"doublet": {"ratio": 0.5, "anode": "Mo"}}}
    assert SimulationConfig.from_dict(mo).op("doublet").settings["anode"] == "Mo"
    with pytest.raises(ConfigError, match="enable 'profile' too"):
        SimulationConfig.from_dict({"ops": {"sample_broadening": {"size": 50, "strain": 0.001}}})


#: Per-pattern parameters of the train preset (ops in OPS order).
TRAIN_PARAMS = (
    "mixture.phases", "mixture.fraction", "lattice_strain.amplitude", "zero_shift.delta",
    "displacement.shift",
    "position_noise.amplitude", "intensity_noise.amplitude", "preferred_orientation.r",
    "doublet.ratio", "tube_lines.kbeta", "tube_lines.tungsten",
    "impurity.count", "profile.U", "profile.V", "profile.W", "profile.P",
    "profile.eta", "profile.rho", "sample_broadening.size", "sample_broadening.strain",
    "transparency.mu",
    "background.c0", "background.c1", "background.c2", "background.c3", "amorphous.count",
    "air_scatter.amplitude", "air_scatter.decay", "poisson_noise.counts",
    "background_noise.amplitude", "background_noise.dilation", "scan_range.start",
    "scan_range.end",
)  # fmt: skip


def test_disabled_op_and_param_names():
    data = _with(_with(_train(), "profile", enabled=False), "sample_broadening", enabled=False)
    cfg = SimulationConfig.from_dict(data)
    assert "profile.U" not in cfg.param_names()
    assert SimulationConfig.from_dict(cfg.to_dict()) == cfg
    assert load_config("train").param_names() == TRAIN_PARAMS


def test_train_and_invariance_presets_are_disjoint():
    check_disjoint(load_config("train"), load_config("invariance"))


def test_disjointness_names_every_overlap():
    a = _train()
    b = _train()
    b["ops"]["zero_shift"]["delta"] = {"plusminus": [0.2, 0.3]}  # disjoint from ±0.15
    b["ops"]["profile"]["eta"] = {"uniform": [0.9, 0.95]}  # touches 0.9: overlap
    b["ops"]["impurity"]["count"] = {"choice": [4, 9]}  # shares 4
    b["ops"]["position_noise"]["amplitude"] = {"uniform": [-0.002, -0.001]}  # |a| inside
    with pytest.raises(ConfigOverlapError) as err:
        check_disjoint(SimulationConfig.from_dict(a), SimulationConfig.from_dict(b))
    names = [name for name, _ in err.value.overlaps]
    # everything else in b equals a, so every other randomised parameter overlaps too
    train = load_config("train")
    randomised = [
        n for n in train.param_names() + ITEM_SLOTS
        if train.enabled(n.split(".")[0])
        and train.op(n.split(".")[0]).params[n.split(".")[1]].randomised
    ]  # fmt: skip
    assert set(names) == set(randomised) - {"zero_shift.delta"}
    assert "profile.eta" in str(err.value) and "binning.mode" not in names


def test_fixed_equal_is_allowed_fixed_inside_range_is_not():
    a = {"ops": {"doublet": {"ratio": 0.5}}}
    check_disjoint(SimulationConfig.from_dict(a), SimulationConfig.from_dict(a))
    b = {"ops": {"doublet": {"ratio": {"uniform": [0.4, 0.6]}}}}
    with pytest.raises(ConfigOverlapError, match=r"doublet\.ratio"):
        check_disjoint(SimulationConfig.from_dict(a), SimulationConfig.from_dict(b))
    c = {"ops": {"doublet": {"ratio": {"uniform": [0.55, 0.6]}}}}
    check_disjoint(SimulationConfig.from_dict(a), SimulationConfig.from_dict(c))
    # an op enabled in only one of the configs is never compared
    d = {"ops": {"doublet": {"enabled": False, "ratio": 0.5}}}
    check_disjoint(SimulationConfig.from_dict(b), SimulationConfig.from_dict(d))


def test_vector_list_settings_take_any_count_of_vectors_of_the_right_length():
    """preferred_orientation.directions is a list of hkl triples: its own count, checked."""
    data = load_config("train").to_dict()
    data["ops"]["preferred_orientation"]["directions"] = [[0, 0, 1], [1, 1, 1]]
    assert load_config(data).op("preferred_orientation").settings["directions"] == [
        [0, 0, 1], [1, 1, 1]]
    for bad in ([[0, 0]], [], [[0, 0, float("nan")]], "001"):
        data["ops"]["preferred_orientation"]["directions"] = bad
        with pytest.raises(ConfigError, match="preferred_orientation.directions"):
            load_config(data)
