"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).

For ``N`` pairs, the ``2N`` views ``z_k`` (``k < N`` from view A, ``k ≥ N`` from
view B; ``k`` and ``k ± N`` are the positive pair) have cosine similarities
``s_kl = z_k·z_l / (‖z_k‖‖z_l‖)``, and

    ℓ(k, p) = −log( exp(s_kp/τ) / Σ_{l≠k} exp(s_kl/τ) ),      L = (1/2N) Σ_k ℓ(k, p(k))

(SimCLR eq. 1 and Algorithm 1, averaged over both orderings of every pair).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent_loss(z_a: torch.Tensor, z_b: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """NT-Xent of ``(N, D)`` views ``z_a``, ``z_b`` (row ``i`` of each is a positive pair)."""
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(
            f"views must both be (N, D); got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, positives)
