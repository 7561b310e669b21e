"""Losses against plain-loop references written from the papers' equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from xrdsim_training.losses import (
    barlow_twins_loss,
    cross_correlation,
    nt_xent_loss,
    supervised_loss,
)

from xrdsim.structures.crystal_systems import SPACE_GROUP_RANGES

#: float32 torch vs float64 loops over ≤ 64-dim sums.
RTOL = 1e-4


def barlow_reference(za: np.ndarray, zb: np.ndarray, lam: float) -> float:
    """das2025 eq. 6–7 / Zbontar et al. eq. 1–2, with features centred over the batch."""
    za = za - za.mean(axis=0)
    zb = zb - zb.mean(axis=0)
    n, d = za.shape
    c = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            num = sum(za[b, i] * zb[b, j] for b in range(n))
            den = math.sqrt(sum(za[b, i] ** 2 for b in range(n))) * math.sqrt(
                sum(zb[b, j] ** 2 for b in range(n))
            )
            c[i, j] = num / den
    on = sum((1 - c[i, i]) ** 2 for i in range(d))
    off = sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j)
    return on + lam * off


def nt_xent_reference(za: np.ndarray, zb: np.ndarray, tau: float) -> float:
    """SimCLR eq. 1 averaged over all 2N anchors (Algorithm 1)."""
    z = np.concatenate([za, zb])
    n2 = len(z)
    n = n2 // 2

    def sim(u, v):
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    total = 0.0
    for k in range(n2):
        p = k + n if k < n else k - n
        den = sum(math.exp(sim(z[k], z[m]) / tau) for m in range(n2) if m != k)
        total += -math.log(math.exp(sim(z[k], z[p]) / tau) / den)
    return total / n2


@pytest.mark.parametrize("lam", [5e-3, 0.5])
@pytest.mark.parametrize("shape", [(8, 5), (16, 12)])
def test_barlow_twins_matches_loop_reference(lam, shape):
    rng = np.random.default_rng(1)
    za, zb = rng.normal(size=shape), rng.normal(size=shape) + 0.3 * rng.normal(size=shape)
    got = barlow_twins_loss(torch.tensor(za, dtype=torch.float32),
                            torch.tensor(zb, dtype=torch.float32), lambda_offdiag=lam)
    assert float(got) == pytest.approx(barlow_reference(za, zb, lam), rel=RTOL)


def test_barlow_twins_is_zero_for_identical_decorrelated_views():
    # orthogonal, zero-mean columns: C = I exactly, both terms vanish
    # (columns of Q span the centred columns, so they are zero-mean and orthonormal)
    h = np.eye(16) - 1 / 16  # centring matrix
    z = np.linalg.qr(h @ np.random.default_rng(2).normal(size=(16, 4)))[0]
    t = torch.tensor(z, dtype=torch.float32)
    assert torch.allclose(cross_correlation(t, t), torch.eye(4), atol=1e-5)
    assert float(barlow_twins_loss(t, t, lambda_offdiag=1.0)) == pytest.approx(0, abs=1e-5)


def test_barlow_twins_is_invariant_to_feature_scale_and_shift():
    rng = np.random.default_rng(3)
    za, zb = (torch.tensor(rng.normal(size=(10, 6)), dtype=torch.float32) for _ in range(2))
    a = barlow_twins_loss(za, zb, lambda_offdiag=0.1)
    b = barlow_twins_loss(3 * za + 7, zb - 2, lambda_offdiag=0.1)
    assert float(a) == pytest.approx(float(b), rel=RTOL)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_loop_reference(tau):
    rng = np.random.default_rng(4)
    za, zb = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    got = nt_xent_loss(torch.tensor(za, dtype=torch.float32), torch.tensor(zb, dtype=torch.float32),
                       temperature=tau)
    assert float(got) == pytest.approx(nt_xent_reference(za, zb, tau), rel=RTOL)


def test_nt_xent_prefers_aligned_pairs():
    rng = np.random.default_rng(5)
    z = torch.tensor(rng.normal(size=(8, 16)), dtype=torch.float32)
    aligned = nt_xent_loss(z, z + 0.01 * torch.randn(8, 16), temperature=0.1)
    shuffled = nt_xent_loss(z, z[torch.randperm(8)], temperature=0.1)
    assert float(aligned) < float(shuffled)


def test_supervised_loss_is_the_weighted_mean_of_three_cross_entropies():
    rng = np.random.default_rng(6)
    b, k = 5, 4
    cs_logits, eg_logits = rng.normal(size=(b, 7)), rng.normal(size=(b, k))
    sg_logits = rng.normal(size=(b, 230))
    sg = np.array([2, 14, 62, 225, 160])
    cs = np.array([next(c for c, (lo, hi) in enumerate(SPACE_GROUP_RANGES) if lo <= s <= hi)
                   for s in sg])
    eg = rng.integers(0, k, size=b)

    def ce(logits, label):
        return -(logits[label] - math.log(sum(math.exp(v) for v in logits)))

    ref_cs = np.mean([ce(cs_logits[i], cs[i]) for i in range(b)])
    ref_eg = np.mean([ce(eg_logits[i], eg[i]) for i in range(b)])
    # SG: softmax over the head of the true crystal system only
    ref_sg = np.mean([
        ce(sg_logits[i, SPACE_GROUP_RANGES[cs[i]][0] - 1 : SPACE_GROUP_RANGES[cs[i]][1]],
           sg[i] - SPACE_GROUP_RANGES[cs[i]][0])
        for i in range(b)
    ])
    w = (1.0, 0.5, 2.0)
    out = supervised_loss(
        {"cs": torch.tensor(cs_logits), "eg": torch.tensor(eg_logits),
         "sg": torch.tensor(sg_logits)},
        crystal_system=torch.tensor(cs), extinction_group=torch.tensor(eg),
        space_group=torch.tensor(sg), weights=w,
    )
    assert float(out["cs"]) == pytest.approx(ref_cs, rel=RTOL)
    assert float(out["eg"]) == pytest.approx(ref_eg, rel=RTOL)
    assert float(out["sg"]) == pytest.approx(ref_sg, rel=RTOL)
    expected = (w[0] * ref_cs + w[1] * ref_eg + w[2] * ref_sg) / sum(w)
    assert float(out["loss"]) == pytest.approx(expected, rel=RTOL)


def test_losses_refuse_mismatched_views():
    with pytest.raises(ValueError, match="views"):
        barlow_twins_loss(torch.zeros(4, 3), torch.zeros(4, 2), lambda_offdiag=1.0)
    with pytest.raises(ValueError, match="views"):
        nt_xent_loss(torch.zeros(4, 3), torch.zeros(5, 3), temperature=0.1)


def test_smoothed_and_class_weighted_supervised_loss_against_loops():
    from xrdsim_training.losses.supervised import class_weights

    rng = np.random.default_rng(7)
    b, k, eps = 6, 4, 0.1
    cs_logits, eg_logits = rng.normal(size=(b, 7)), rng.normal(size=(b, k))
    sg_logits = rng.normal(size=(b, 230))
    sg = np.array([2, 14, 14, 62, 225, 160])
    cs = np.array([next(c for c, (lo, hi) in enumerate(SPACE_GROUP_RANGES) if lo <= s <= hi)
                   for s in sg])
    eg = rng.integers(0, k, size=b)
    labels = {"crystal_system": cs, "extinction_group": eg, "space_group": sg}
    cw = class_weights(labels, beta=1.0, n_classes={"crystal_system": 7,
                                                    "extinction_group": k, "space_group": 230})
    # fully balanced: every present class weighs 1/count, examples average 1
    assert float(cw["space_group"][sg - 1].mean()) == pytest.approx(1.0)
    assert float(cw["space_group"][13] / cw["space_group"][1]) == pytest.approx(0.5)

    def smoothed(logits, label):
        logp = logits - math.log(sum(math.exp(v) for v in logits))
        return -((1 - eps) * logp[label] + eps * np.mean(logp))

    def weighted(values, w):
        return float(np.sum(w * values) / np.sum(w))

    w_cs, w_sg = cw["crystal_system"].numpy()[cs], cw["space_group"].numpy()[sg - 1]
    ref_cs = weighted(np.array([smoothed(cs_logits[i], cs[i]) for i in range(b)]), w_cs)
    heads = [SPACE_GROUP_RANGES[c] for c in cs]
    ref_sg = weighted(np.array([smoothed(sg_logits[i, lo - 1:hi], sg[i] - lo)
                                for i, (lo, hi) in enumerate(heads)]), w_sg)
    out = supervised_loss(
        {"cs": torch.tensor(cs_logits), "eg": torch.tensor(eg_logits),
         "sg": torch.tensor(sg_logits)},
        crystal_system=torch.tensor(cs), extinction_group=torch.tensor(eg),
        space_group=torch.tensor(sg), weights=(1.0, 1.0, 1.0), class_weights=cw,
        label_smoothing=eps,
    )
    assert float(out["cs"]) == pytest.approx(ref_cs, rel=RTOL)
    assert float(out["sg"]) == pytest.approx(ref_sg, rel=RTOL)
