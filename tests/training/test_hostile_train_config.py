"""Hostile training configs: exit 3 naming the setting, never a traceback or a NaN run (25)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training.config import TrainConfig, load_train_config

from xrdsim.errors import ConfigError

CASES = [
    ("train_lr_abc.yaml", r"lr must be a finite number in \(0\.0, 10\.0\], got 'abc'"),
    ("train_lr_1e300.yaml", r"lr must be a finite number"),
    ("train_lr_inf.yaml", r"lr must be a finite number.*got inf"),
    ("train_loss_weights_scalar.yaml", r"loss_weights must be three numbers"),
    ("train_seed_1e23.yaml", r"seed must be an integer in \[0, 9223372036854775807\]"),
    ("train_model_5.yaml", r"model must be a mapping"),
    ("train_device_cudaXYZ.yaml", r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ("train_view_two_theta_abc.yaml", r"view_two_theta must be \(lo, hi\) .*got 'abc'"),
    ("train_view_two_theta_3.yaml", r"view_two_theta must be \(lo, hi\) .*got \(5, 60, 90\)"),
]


@pytest.mark.parametrize(("name", "match"), CASES)
def test_hostile_train_config_is_refused(hostile_data, name, match):
    with pytest.raises(ConfigError, match=match):
        load_train_config(hostile_data / "configs" / name)


@pytest.mark.parametrize("name", [c[0] for c in CASES] + ["sim_alias_bomb.yaml",
                                                          "sim_not_utf8.yaml"])
def test_cli_train_exits_3(hostile_data, name, tmp_path):
    result = CliRunner().invoke(cli, ["train", "--method", "supervised", "--train-config",
                                      str(hostile_data / "configs" / name), "-o",
                                      str(tmp_path / "run")])
    assert result.exit_code == 3, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_cli_device_flag_and_bounds():
    result = CliRunner().invoke(cli, ["train", "--method", "supervised", "--device", "cudaXYZ",
                                      "-o", "unused_run"])
    assert result.exit_code == 3 and "device must be" in result.output
    for bad in ({"batch_size": 10**9}, {"model": {"depth": 40}}, {"workers": 5000}):
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(bad)
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0


@pytest.mark.parametrize("kw", [{}, {"width": 4, "depth": 2, "embed_dim": 16,
                                     "projector_dim": 32, "pool_length": 4},
                                {"width": 3, "depth": 8, "blocks_per_stage": 3,
                                 "pool_length": 1, "embed_dim": 5, "projector_dim": 7}])
def test_parameter_bound_bounds_the_real_network(kw):
    """The size check runs on the settings alone; it must bound what XrdNet allocates."""
    from xrdsim_training.config import ModelConfig
    from xrdsim_training.models import XrdNet

    config = ModelConfig(**kw)
    model = XrdNet(config)
    real = sum(t.numel() for t in (*model.parameters(), *model.buffers()))
    assert real <= config.parameter_bound() <= 1.02 * real


def test_largest_allowed_settings_are_refused_before_allocation():
    """Issue 30: a 165 KB checkpoint asked for an 8.3 GiB model; the largest settings meant
    25 TiB. The bound refuses them as a config error, before any tensor exists."""
    from xrdsim_training.config import ModelConfig

    from xrdsim.errors import ConfigError

    with pytest.raises(ConfigError, match="refused before anything is allocated"):
        ModelConfig(width=1024, depth=12, blocks_per_stage=32)
    with pytest.raises(ConfigError, match="parameters"):
        ModelConfig.from_dict({"width": 256, "depth": 8, "embed_dim": 65536,
                               "pool_length": 12000}, saved=True)
