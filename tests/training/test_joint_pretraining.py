"""Joint pre-training of barlow / simclr: contrastive loss + w · supervised CE of both views."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.losses import barlow_twins_loss, nt_xent_loss, supervised_loss
from xrdsim_training.methods import phases
from xrdsim_training.models import XrdNet
from xrdsim_training.step import step_loss

from xrdsim.errors import ConfigError

TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4,
                   n_extinction_groups=11)
CPU = torch.device("cpu")
#: One forward of 2B rows against two of B rows: oneDNN blocks the batch differently and
#: float32 sums differ in the last bits; Barlow Twins standardises z over 6 rows, which
#: amplifies that to ~1e-5 relative (seen: 1.1e-5 with two busy intra-op threads).
FLOAT32_REL = 1e-4


def _batch(n: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {"pattern": torch.rand(n, 12000, generator=g),
            "pattern_b": torch.rand(n, 12000, generator=g),
            "crystal_system": torch.tensor([0, 1, 2, 3, 5, 6])[:n],
            "extinction_group": torch.tensor([0, 2, 4, 6, 8, 10])[:n],
            "space_group": torch.tensor([2, 14, 62, 139, 194, 225])[:n]}


@pytest.mark.parametrize(("method", "w"), [("barlow", 7.5), ("simclr", 0.3)])
def test_joint_loss_is_contrastive_plus_w_times_ce_of_both_views(method, w):
    torch.manual_seed(0)
    net = XrdNet(TINY).eval()  # running batch-norm statistics: each pattern on its own
    config = TrainConfig(method=method, pretrain_supervised_weight=w, model=TINY, amp=False)
    batch = _batch()
    with torch.no_grad():
        parts = step_loss(net, batch, phase=phases(method)[0], config=config, device=CPU)
        # reference: separate forwards of each view, the CE of the two views averaged
        za, zb = net(batch["pattern"], project=True), net(batch["pattern_b"], project=True)
        contrastive = (barlow_twins_loss(za, zb, lambda_offdiag=config.barlow_lambda)
                       if method == "barlow" else
                       nt_xent_loss(za, zb, temperature=config.temperature))
        labels = {k: batch[k] for k in ("crystal_system", "extinction_group", "space_group")}
        ce = [supervised_loss(net(batch[v]), weights=config.loss_weights, **labels)["loss"]
              for v in ("pattern", "pattern_b")]
    assert float(parts["contrastive"]) == pytest.approx(float(contrastive), rel=FLOAT32_REL)
    assert float(parts["loss"]) == pytest.approx(float(contrastive) + w * float(ce[0] + ce[1]) / 2,
                                                 rel=FLOAT32_REL)
    assert set(parts) == {"loss", "contrastive", "cs", "eg", "sg"}


def test_weight_zero_is_the_self_supervised_loss_and_trains_no_head():
    torch.manual_seed(0)
    net = XrdNet(TINY)
    config = TrainConfig(method="barlow", model=TINY, amp=False)
    parts = step_loss(net, _batch(), phase=phases("barlow")[0], config=config,
                      device=CPU)
    assert set(parts) == {"loss"}
    parts["loss"].backward()
    assert all(p.grad is None for p in net.heads.parameters())
    net.zero_grad(set_to_none=True)
    joint = config.replace(pretrain_supervised_weight=1.0)
    step_loss(net, _batch(), phase=phases("barlow")[0], config=joint,
              device=CPU)["loss"].backward()
    assert all(p.grad is not None for p in net.heads.parameters())
    assert all(p.grad is not None for p in net.projector.parameters())


def test_forward_both_is_heads_and_projection_of_one_pass():
    torch.manual_seed(0)
    net = XrdNet(TINY).eval()
    x = torch.rand(3, 12000)
    with torch.no_grad():
        both, heads, z = net(x, project="both"), net(x), net(x, project=True)
    for k in ("cs", "eg", "sg", "h"):
        assert torch.equal(both[k], heads[k])
    assert torch.equal(both["z"], z)
    with pytest.raises(ValueError, match="project must be"):
        net(x, project="z")


def test_weight_is_refused_outside_the_contrastive_methods_and_below_zero():
    with pytest.raises(ConfigError, match="pretrain_supervised_weight applies to"):
        TrainConfig(method="supervised-aug", pretrain_supervised_weight=1.0)
    with pytest.raises(ConfigError, match="pretrain_supervised_weight must be"):
        TrainConfig(method="barlow", pretrain_supervised_weight=-1.0)
    assert TrainConfig.from_dict({"method": "barlow", "pretrain_supervised_weight": 30}
                                 ).pretrain_supervised_weight == 30.0
    result = CliRunner().invoke(cli, ["train", "--method", "supervised",
                                      "--pretrain-supervised-weight", "2", "-o", "unused_run"])
    assert result.exit_code == 3 and "pretrain_supervised_weight applies to" in result.output
