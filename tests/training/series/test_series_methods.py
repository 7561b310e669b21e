"""sun2023 pieces against plain references and toy cases with known answers."""

from __future__ import annotations

import collections
import math
import pickle

import numpy as np
import pytest
import torch
from torch import nn
from xrdsim_training.models.convsc import ConvSCEncoder, SpatialAttention1d
from xrdsim_training.series.augment import SpectraAugment
from xrdsim_training.series.linear import (
    matched_accuracy,
    select_labelled,
    transition_intervals,
)
from xrdsim_training.series.moco import MoCo, info_nce
from xrdsim_training.series.relational import (
    cut_pieces,
    draw_pieces,
    external_variable_classes,
    external_variable_loss,
    inter_sample_loss,
    inter_sample_pairs,
    intra_sample_loss,
)

#: float32 torch against float64 loops.
RTOL = 1e-5


def info_nce_reference(q, k, queue, tau):
    """MoCo eq. 1 written as a loop over queries (float64)."""
    total = 0.0
    for i in range(q.shape[0]):
        pos = math.exp(float(q[i] @ k[i]) / tau)
        neg = sum(math.exp(float(q[i] @ queue[:, j]) / tau) for j in range(queue.shape[1]))
        total += -math.log(pos / (pos + neg))
    return total / q.shape[0]


def test_info_nce_matches_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    q = nn.functional.normalize(torch.randn(5, 8, generator=g), dim=1)
    k = nn.functional.normalize(torch.randn(5, 8, generator=g), dim=1)
    queue = nn.functional.normalize(torch.randn(8, 11, generator=g), dim=0)
    got = float(info_nce(q, k, queue, temperature=0.2))
    ref = info_nce_reference(q.double().numpy(), k.double().numpy(), queue.double().numpy(), 0.2)
    assert got == pytest.approx(ref, rel=RTOL)


def test_queue_is_a_fifo_and_keys_follow_the_momentum_rule():
    torch.manual_seed(0)
    moco = MoCo(nn.Linear(4, 6), embed_dim=6, dim=3, queue_size=5, momentum=0.9)
    ref = collections.deque(moco.queue.T.clone(), maxlen=5)
    for n in (2, 3, 4, 1):
        keys = torch.randn(n, 3)
        moco.enqueue(keys)
        ref.extend(keys)
        # the queue holds the last 5 keys; position of each = (insertion index) mod 5
        ptr = int(moco.queue_ptr)
        ordered = torch.cat([moco.queue[:, ptr:], moco.queue[:, :ptr]], dim=1).T
        assert torch.equal(ordered, torch.stack(list(ref)))
    q0 = [p.detach().clone() for p in moco.encoder_q.parameters()]
    k0 = [p.detach().clone() for p in moco.encoder_k.parameters()]
    with torch.no_grad():
        for p in moco.encoder_q.parameters():
            p.add_(1.0)
    moco.momentum_update()
    for _pq, pk, q_old, k_old in zip(
        moco.encoder_q.parameters(), moco.encoder_k.parameters(), q0, k0, strict=True
    ):
        assert torch.allclose(pk, 0.9 * k_old + 0.1 * (q_old + 1.0))
        assert not pk.requires_grad


def test_moco_loss_updates_the_queue_with_the_batch_keys():
    torch.manual_seed(1)
    moco = MoCo(nn.Linear(4, 6), embed_dim=6, dim=3, queue_size=8)
    x = torch.randn(3, 4)
    loss = moco.loss(moco.encoder_q(x), x)
    assert loss.requires_grad and int(moco.queue_ptr) == 3
    assert torch.allclose(moco.queue[:, :3].norm(dim=0), torch.ones(3))


class _Closeness(nn.Module):
    """A relation head that knows the answer: score = 1 − 10·|a − b|² on (a, b) halves."""

    def forward(self, pairs):
        a, b = pairs.chunk(2, dim=1)
        return 1.0 - 10.0 * ((a - b) ** 2).sum(dim=1, keepdim=True)


def test_inter_sample_pairs_and_a_head_that_knows_the_answer():
    views = torch.stack([torch.eye(4), torch.eye(4), torch.eye(4)])  # 3 identical views
    pairs, targets = inter_sample_pairs(views)
    assert pairs.shape == (3 * 2 * 4, 8) and targets.tolist() == ([1.0] * 4 + [0.0] * 4) * 3
    assert torch.equal(pairs[4], torch.cat([torch.eye(4)[0], torch.eye(4)[1]]))  # i with i+1
    loss, acc = inter_sample_loss(_Closeness(), views)
    assert acc == 1.0
    # BCE by hand: positives score 1, negatives 1 − 20 = −19
    ref = 0.5 * (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-19.0)))
    assert float(loss) == pytest.approx(ref, rel=RTOL)


def test_intra_sample_pieces_and_distance_classes():
    rng = np.random.default_rng(0)
    m, n, c = draw_pieces(rng, 4000, n_pieces=8, n_classes=4)
    d = np.abs(m - n)
    assert ((0 <= m) & (m < 8) & (0 <= n) & (n < 8)).all()
    assert (c == np.minimum(d, 3)).all()
    assert np.bincount(c).min() > 900  # classes drawn uniformly
    x = torch.arange(80.0).repeat(2, 1)
    assert cut_pieces(x, np.array([0, 7]), 8).tolist() == [list(range(10)), list(range(70, 80))]

    class PieceIndex(nn.Module):  # encoder: the piece's index, from its mean position
        def forward(self, p):
            return ((p.mean(dim=1, keepdim=True) - 4.5) / 10.0).round()

    class Distance(nn.Module):  # head: logits peak at class min(|m − n|, 3)
        def forward(self, pair):
            dist = (pair[:, :1] - pair[:, 1:]).abs().clamp(max=3)
            return -((dist - torch.arange(4.0)) ** 2)

    x = torch.arange(80.0).repeat(64, 1)
    _, acc = intra_sample_loss(PieceIndex(), Distance(), x, rng, n_pieces=8, n_classes=4)
    assert acc == 1.0


def test_external_variable_classes_and_loss():
    assert external_variable_classes(np.arange(10), 10).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert external_variable_classes(np.arange(7), np.full(7, 7), 5).tolist() == [
        0, 0, 1, 2, 2, 3, 4,
    ]  # fmt: skip
    head = nn.Linear(5, 5, bias=False)
    with torch.no_grad():
        head.weight.copy_(10 * torch.eye(5))
    loss, acc = external_variable_loss(head, torch.eye(5), torch.arange(5))
    ref = -math.log(math.exp(10) / (math.exp(10) + 4))
    assert acc == 1.0 and float(loss.detach()) == pytest.approx(ref, abs=1e-7)  # float32


def _peaks(length=500, centres=(100, 250, 400)):
    t = np.arange(length)
    return sum(np.exp(-0.5 * ((t - c) / 4.0) ** 2) for c in centres).astype(np.float32)


def _peak_positions(y):
    y = np.asarray(y)
    return np.flatnonzero((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] > 0.3)) + 1


def _n_peaks(y):
    return _peak_positions(y).size


def test_augmentations_keep_the_number_of_peaks_and_split_draw_from_apply():
    x = torch.from_numpy(np.stack([_peaks()] * 6))
    warp = SpectraAugment(ops=("angle_warp",))
    params = warp.make_params(np.random.default_rng(3), 6, 500)
    y = warp.apply(x, params)
    assert all(_n_peaks(row) == 3 for row in y.numpy())
    assert not torch.allclose(y, x)
    assert torch.equal(warp.apply(x, params), y)  # apply is deterministic
    mag = SpectraAugment(ops=("magnitude_warp",))
    z = mag(x, np.random.default_rng(4))
    for row in z.numpy():  # peaks do not move
        assert _peak_positions(row).tolist() == [100, 250, 400]
    every = SpectraAugment(
        ops=("angle_warp", "window_slice", "magnitude_warp", "scaling", "jitter")
    )
    a = every(x, np.random.default_rng(5))
    b = every(x, np.random.default_rng(5))
    assert torch.equal(a, b) and a.shape == x.shape
    assert torch.equal(SpectraAugment(ops=())(x, np.random.default_rng(0)), x)
    assert pickle.loads(pickle.dumps(every)) == every


def test_convsc_encoder_takes_patterns_and_pieces():
    enc = ConvSCEncoder(channels=4, pool_length=8, embed_dim=16)
    assert enc(torch.rand(3, 500)).shape == (3, 16)
    assert enc(torch.rand(3, 1, 62)).shape == (3, 16)
    att = SpatialAttention1d(8)
    h = torch.rand(2, 8, 5)
    assert torch.equal(att(h), h)  # γ starts at 0: the attention is learned in


def test_label_selection_matches_the_paper_share():
    labels = np.concatenate([np.repeat([0, 1, 2], [50, 11, 50])] * 10)
    series = np.repeat(np.arange(10), 111)
    chosen = select_labelled(labels, series, fraction=0.027)
    assert chosen.size == 30  # round(0.027 · 1110)
    cells = collections.Counter(zip(series[chosen], labels[chosen], strict=True))
    assert len(cells) == 30 and set(cells.values()) == {1}
    assert labels[chosen[1]] == 1 and chosen[1] == 55  # the centre of series 0's "during"


def test_matched_accuracy_and_transition_intervals():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert matched_accuracy(np.array([2, 2, 0, 0, 1, 1]), labels) == 1.0
    assert matched_accuracy(np.array([2, 2, 2, 0, 1, 1]), labels) == pytest.approx(5 / 6)
    v = np.arange(6.0) * 10
    assert transition_intervals(labels, v) == [[20.0, 30.0]]
    assert transition_intervals(np.array([0, 0, 2, 2, 1, 2]), v) == [[10.0, 20.0], [40.0, 40.0]]


def test_series_train_config_round_trip_and_refusals():
    from xrdsim_training.series.config import SeriesTrainConfig

    from xrdsim.errors import ConfigError

    cfg = SeriesTrainConfig(method="specrr", augment=("jitter", "scaling"))
    assert SeriesTrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.uses_relations and not cfg.uses_moco
    assert SeriesTrainConfig(method="specrrmoco").uses_moco
    with pytest.raises(ConfigError, match="did you mean 'specrr'"):
        SeriesTrainConfig(method="specr")
    with pytest.raises(ConfigError, match="unknown augmentations"):
        SeriesTrainConfig(augment=("time_warp",))
    with pytest.raises(ConfigError, match="n_views"):
        SeriesTrainConfig(n_views=1)
