"""Encoder shapes, the 8-head layout, and the SG → CS consistency of the heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from xrdsim_training.checkpoint import check_architecture
from xrdsim_training.config import ModelConfig
from xrdsim_training.models import (
    XrdNet,
    conditional_sg_log_probs,
    predict_space_group,
    space_group_probabilities,
)
from xrdsim_training.models.heads import SG_CRYSTAL_SYSTEM

from xrdsim.errors import TrainingError

#: Crystal system of space groups at both ends of each range (International Tables Vol. A),
#: written out independently of xrdsim.structures.crystal_systems.
PINNED_SG_CS = {1: 0, 2: 0, 3: 1, 15: 1, 16: 2, 74: 2, 75: 3, 142: 3, 143: 4, 167: 4,
                168: 5, 194: 5, 195: 6, 230: 6}
RANGES = [(1, 2), (3, 15), (16, 74), (75, 142), (143, 167), (168, 194), (195, 230)]
TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4,
                   n_extinction_groups=11)


def test_encoder_and_heads_shapes():
    net = XrdNet(TINY)
    out = net(torch.randn(3, 12000))
    assert out["cs"].shape == (3, 7)
    assert out["eg"].shape == (3, 11)
    assert out["sg"].shape == (3, 230)
    assert out["h"].shape == (3, 16)
    assert net(torch.randn(3, 1, 12000), project=True).shape == (3, 32)


def test_gelu_activations_and_head_count():
    net = XrdNet(TINY)
    assert any(isinstance(m, nn.GELU) for m in net.encoder.modules())
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    heads = [m for m in net.heads.children()]
    # one CS head, one EG head, and a list of 7 crystal-system-specific SG heads
    assert isinstance(heads[0], nn.Linear) and heads[0].out_features == 7
    assert isinstance(heads[1], nn.Linear) and heads[1].out_features == 11
    sg_sizes = [h.out_features for h in net.heads.sg]
    assert sg_sizes == [2, 13, 59, 68, 25, 27, 36]
    assert sum(sg_sizes) == 230


def test_sg_crystal_system_table_matches_international_tables():
    for sg, cs in PINNED_SG_CS.items():
        assert int(SG_CRYSTAL_SYSTEM[sg - 1]) == cs


def test_space_group_probabilities_marginalise_to_the_cs_head():
    torch.manual_seed(0)
    cs_logits, sg_logits = torch.randn(64, 7) * 3, torch.randn(64, 230) * 3
    p = space_group_probabilities(cs_logits, sg_logits)
    assert torch.allclose(p.sum(1), torch.ones(64), atol=1e-5)
    p_cs = torch.softmax(cs_logits, 1)
    for c in range(7):
        members = list(range(RANGES[c][0] - 1, RANGES[c][1]))
        assert torch.allclose(p[:, members].sum(1), p_cs[:, c], atol=1e-5)


def test_conditional_sg_distributions_are_normalised_per_head():
    logp = conditional_sg_log_probs(torch.randn(5, 230))
    for lo, hi in RANGES:
        assert torch.allclose(logp[:, lo - 1 : hi].exp().sum(1), torch.ones(5), atol=1e-5)


def test_routed_space_group_always_lies_in_the_predicted_crystal_system():
    torch.manual_seed(1)
    cs_logits, sg_logits = torch.randn(500, 7) * 4, torch.randn(500, 230) * 4
    sg = predict_space_group(cs_logits, sg_logits)
    assert sg.min() >= 1 and sg.max() <= 230
    cs_of_sg = torch.tensor([next(c for c, (lo, hi) in enumerate(RANGES) if lo <= s <= hi)
                             for s in sg.tolist()])
    assert torch.equal(cs_of_sg, cs_logits.argmax(1))
    # and it is the best space group of that head
    for i in range(20):
        c = int(cs_logits[i].argmax())
        lo, hi = RANGES[c]
        assert int(sg[i]) == lo + int(sg_logits[i, lo - 1 : hi].argmax())


def test_checkpoint_of_another_architecture_is_refused():
    other = ModelConfig(**{**TINY.to_dict(), "width": 8})
    with pytest.raises(TrainingError, match="another architecture.*width: checkpoint 8"):
        check_architecture(other, TINY, source="run/checkpoint.pt")
    check_architecture(TINY, TINY, source="same")
