"""Figures of merit of an indexing: de Wolff's M_N and Smith & Snyder's F_N.

- **M_N** (de Wolff, J. Appl. Cryst. 1, 108 (1968)): ``M_N = Q_N / (2·ε̄·N_calc)`` with
  Q_N the Q of the N-th observed line, ε̄ the mean |Q_obs − Q_calc| of the indexed lines
  among the first N, N_calc the number of distinct calculated lines (of the lattice,
  centring absences removed) up to Q_N. M20 ≥ 10 with at most two unindexed lines of the
  first 20 is de Wolff's mark of a solution that is "not wrong".
- **F_N** (Smith & Snyder, J. Appl. Cryst. 12, 60 (1979)): ``F_N = N / (⟨|Δ2θ|⟩·N_poss)``
  with ⟨|Δ2θ|⟩ in degrees and N_poss the possible lines up to the N-th observed line;
  reported as F_N (⟨|Δ2θ|⟩, N_poss).

N is 20 (or all lines when fewer are observed); Q_obs are corrected for the zero shift.
"""

from __future__ import annotations

import numpy as np

#: Lines the figures of merit use (de Wolff's and Smith & Snyder's customary N).
N_MERIT = 20
#: Mean errors below this floor (Q in Å⁻², 2θ in degrees) are taken as the floor: a
#: simulated pattern can index to ~1e-9 and a figure of merit must stay finite.
Q_ERROR_FLOOR = 1e-7
TWO_THETA_ERROR_FLOOR = 1e-4


def de_wolff(q_obs: np.ndarray, q_calc: np.ndarray, q_lines: np.ndarray) -> float:
    """M_N of the first N lines.

    Args:
        q_obs: (N,) observed Q (Å⁻²) of the first N lines, zero shift removed.
        q_calc: (N,) Q of each one's calculated line, NaN where unindexed.
        q_lines: distinct calculated Q of the lattice (centring absences removed).
    """
    indexed = np.isfinite(q_calc)
    if not indexed.any():
        return 0.0
    q_n = float(q_obs.max())
    eps = max(float(np.mean(np.abs(q_obs[indexed] - q_calc[indexed]))), Q_ERROR_FLOOR)
    n_calc = max(int(np.count_nonzero(q_lines <= q_n * (1 + 1e-9))), 1)
    return q_n / (2.0 * eps * n_calc)


def smith_snyder(tt_obs: np.ndarray, tt_calc: np.ndarray, tt_lines: np.ndarray
                 ) -> tuple[float, float, int]:
    """F_N of the first N lines: (F_N, ⟨|Δ2θ|⟩ in degrees, N_poss).

    Args:
        tt_obs: (N,) observed 2θ, zero shift removed; ``tt_calc`` their calculated 2θ (NaN
            where unindexed); ``tt_lines`` the lattice's distinct lines (degrees).
    """
    indexed = np.isfinite(tt_calc)
    n_poss = int(np.count_nonzero(tt_lines <= float(tt_obs.max()) + 1e-9))
    if not indexed.any() or n_poss == 0:
        return 0.0, float("nan"), n_poss
    delta = max(float(np.mean(np.abs(tt_obs[indexed] - tt_calc[indexed]))),
                TWO_THETA_ERROR_FLOOR)
    return tt_obs.size / (delta * n_poss), delta, n_poss
