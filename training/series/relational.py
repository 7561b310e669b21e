"""sun2023's relational-reasoning pretext tasks (SpecRR-Net, Fig. 4).

* Inter-sample (Patacchiola & Storkey 2020; SelfTime eq. 1, Fan et al. 2020): for K
  augmented views of each of B patterns, every pair of views (a, b), a < b, gives
  positives [z_a(i), z_b(i)] and negatives [z_a(i), z_b(i+1 mod B)]; a relation MLP
  scores each concatenated pair, trained with binary cross-entropy.
* Intra-sample (SelfTime eq. 2, along 2θ): a pattern is cut into P equal pieces; an
  anchor piece m and a second piece n are encoded and the relation head classifies
  their distance |m − n| into C classes (0, 1, …, C−2, ≥ C−1), cross-entropy.
* External variable (sun2023 eq. 1): the patterns of a series are split into T = 5
  equal groups in acquisition order; a linear head predicts the group, cross-entropy.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def relation_mlp(in_dim: int, out_dim: int, hidden: int = 256) -> nn.Module:
    """The relation head: Linear → BN → LeakyReLU → Linear (SelfTime's relation module)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.BatchNorm1d(hidden),
        nn.LeakyReLU(),
        nn.Linear(hidden, out_dim),
    )


def inter_sample_pairs(views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, B, D) features of K views → (pairs (K(K−1)·B, 2D), targets (K(K−1)·B,) float).

    For every a < b: B positive rows [z_a(i), z_b(i)] then B negative rows
    [z_a(i), z_b((i+1) mod B)].
    """
    n_views = views.shape[0]
    pairs, targets = [], []
    for a in range(n_views):
        for b in range(a + 1, n_views):
            pairs.append(torch.cat([views[a], views[b]], dim=1))
            pairs.append(torch.cat([views[a], views[b].roll(-1, dims=0)], dim=1))
            targets.append(torch.ones(views.shape[1]))
            targets.append(torch.zeros(views.shape[1]))
    return torch.cat(pairs), torch.cat(targets).to(views.device)


def inter_sample_loss(head: nn.Module, views: torch.Tensor) -> tuple[torch.Tensor, float]:
    """BCE of the relation head on :func:`inter_sample_pairs`; also its accuracy."""
    pairs, targets = inter_sample_pairs(views)
    scores = head(pairs).squeeze(1)
    acc = float(((scores > 0).float() == targets).float().mean())
    return F.binary_cross_entropy_with_logits(scores, targets), acc


def piece_distance_class(m: np.ndarray, n: np.ndarray, n_classes: int) -> np.ndarray:
    """Class of the distance between pieces m and n: min(|m − n|, C − 1)."""
    return np.minimum(np.abs(np.asarray(m) - np.asarray(n)), n_classes - 1).astype(np.int64)


def draw_pieces(rng: np.random.Generator, batch: int, *, n_pieces: int, n_classes: int):
    """Anchor and second piece per sample with a uniformly drawn distance class.

    Returns (m, n, classes), each (batch,) int64; class c < C−1 means |m − n| = c, the
    last class means |m − n| ≥ C − 1.
    """
    if not 2 <= n_classes <= n_pieces:
        raise ValueError(f"need 2 <= n_classes <= n_pieces, got {n_classes}, {n_pieces}")
    classes = rng.integers(0, n_classes, size=batch)
    far = rng.integers(n_classes - 1, n_pieces, size=batch)
    distance = np.where(classes < n_classes - 1, classes, far)
    m = rng.integers(0, n_pieces - distance)  # m + distance < n_pieces
    n = m + distance
    swap = rng.random(batch) < 0.5
    m, n = np.where(swap, n, m), np.where(swap, m, n)
    return m.astype(np.int64), n.astype(np.int64), piece_distance_class(m, n, n_classes)


def cut_pieces(x: torch.Tensor, index: np.ndarray, n_pieces: int) -> torch.Tensor:
    """Piece ``index[i]`` of row i of x (B, L); pieces are L // P long (remainder dropped)."""
    size = x.shape[1] // n_pieces
    starts = torch.as_tensor(index * size, device=x.device)
    cols = starts[:, None] + torch.arange(size, device=x.device)[None, :]
    return x.gather(1, cols)


def intra_sample_loss(
    encoder: nn.Module,
    head: nn.Module,
    x: torch.Tensor,
    rng: np.random.Generator,
    *,
    n_pieces: int,
    n_classes: int,
):
    """Cross-entropy of the piece-distance classes; also the accuracy."""
    m, n, classes = draw_pieces(rng, x.shape[0], n_pieces=n_pieces, n_classes=n_classes)
    both = encoder(torch.cat([cut_pieces(x, m, n_pieces), cut_pieces(x, n, n_pieces)]))
    za, zb = both.chunk(2)
    logits = head(torch.cat([za, zb], dim=1))
    target = torch.as_tensor(classes, device=x.device)
    return F.cross_entropy(logits, target), float((logits.argmax(1) == target).float().mean())


def external_variable_classes(order: np.ndarray, length: int, n_classes: int = 5) -> np.ndarray:
    """⌊T·i/N⌋ for acquisition index i of a series of N patterns (T equal groups)."""
    i = np.asarray(order)
    if (i < 0).any() or (i >= length).any():
        raise ValueError(f"acquisition indices must lie in [0, {length})")
    return (i * n_classes // length).astype(np.int64)


def external_variable_loss(head: nn.Module, h: torch.Tensor, classes: torch.Tensor):
    """Cross-entropy of sun2023 eq. 1 on the representations h (B, D); also the accuracy."""
    logits = head(h)
    return F.cross_entropy(logits, classes), float((logits.argmax(1) == classes).float().mean())
