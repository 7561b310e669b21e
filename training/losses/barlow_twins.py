"""Barlow Twins redundancy-reduction loss (Zbontar et al. 2021; das2025 eq. 6–7).

With ``z^A, z^B`` the representation-head outputs of two views of the same batch,
each mean-centred over the batch dimension ``b``, the cross-correlation matrix is

    C_ij = Σ_b z^A_{b,i} z^B_{b,j} / ( sqrt(Σ_b (z^A_{b,i})²) · sqrt(Σ_b (z^B_{b,j})²) )   (eq. 7)

and the loss is

    L_BT = Σ_i (1 − C_ii)² + τ · Σ_i Σ_{j≠i} C_ij²                                      (eq. 6)

das2025 eq. 7 prints ``z^B_{b,i}`` in the numerator; that would make every column
of ``C`` the same — the Barlow Twins paper (its eq. 2) has ``z^B_{b,j}``, used here.
Centring each feature over the batch makes ``C`` the Pearson correlation, as the
batch-normalisation of the Barlow Twins reference code does.
"""

from __future__ import annotations

import torch

#: Guards the per-feature norm of a feature that is constant over the batch.
NORM_EPS = 1e-8


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """Matrix ``C`` of eq. 7, shape ``(D, D)``, from ``(B, D)`` views (computed in float32)."""
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(
            f"views must both be (B, D); got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    a = z_a.float() - z_a.float().mean(dim=0)
    b = z_b.float() - z_b.float().mean(dim=0)
    a = a / (a.norm(dim=0) + NORM_EPS)
    b = b / (b.norm(dim=0) + NORM_EPS)
    return a.T @ b


def barlow_twins_loss(
    z_a: torch.Tensor, z_b: torch.Tensor, *, lambda_offdiag: float
) -> torch.Tensor:
    """``L_BT`` of eq. 6 for ``(B, D)`` views; ``lambda_offdiag`` is das2025's τ (BT's λ)."""
    c = cross_correlation(z_a, z_b)
    diag = torch.diagonal(c)
    on = (1.0 - diag).pow(2).sum()
    off = c.pow(2).sum() - diag.pow(2).sum()
    return on + lambda_offdiag * off
