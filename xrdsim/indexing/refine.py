"""Least-squares refinement of a cell on the observed lines, with the zero shift.

``Q = 1/d²`` is linear in the parameters g of the system's form (:mod:`xrdsim.indexing.cell`),
and the 2θ shift s(θ) = z + d·cos θ + τ·sin 2θ (zero shift; specimen displacement and
transparency, refined only when many lines are indexed) enters through the observed
``Q_i = Q(2θ_i − s(θ_i))``; linearised about the current shift, each indexed line gives one
equation::

    c(hkl_i)·g + Q′_i·(Δz + Δd·cos θ_i + Δτ·sin 2θ_i) = Q(2θ_i − s(θ_i)),
    Q′_i = dQ/d2θ = (π/180)·2 sin 2θ_i / λ²

solved by weighted linear least squares with weights 1/Q′_i (residuals in degrees 2θ, the
unit the lines are measured in). Each round re-assigns every observed line to the nearest
calculated line within its tolerance (a line with none stays unindexed) until the
assignment no longer changes.

By default only the zero shift is refined, as DICVOL does: on clean simulated scans
(ZrO2 P2₁/c, Li2MnO3 C2/m, NaCl; zero shift +0.05°) the zero shift alone recovered every
length to 2·10⁻⁵ and z to 0.002°, while adding the displacement term biased the lengths by
up to 0.02 % and z by 0.08° (1, cos θ and the cell's tan θ are nearly collinear over a
scan), and adding the transparency term too by 0.17 % and 0.3°.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from xrdsim.indexing.cell import (
    cell_from_metric,
    coefficients,
    distinct_lines,
    is_positive_definite,
    q_of_two_theta,
    reciprocal_metric,
    reflections,
    two_theta_of_q,
)

#: Rounds of assignment + least squares at most (the assignment settles in 2–4).
MAX_ROUNDS = 12
#: Extra Q above the last observed line's window for which reflections are listed.
Q_MARGIN = 1.02
#: The zero shift, then the displacement, then the transparency term (as many as the
#: caller's ``shift_terms``) are refined once this many more lines than the cell has
#: parameters are indexed (with fewer they would fit the noise).
LINES_FOR_SHIFTS = (3, 5, 8)
#: |coefficient| of the cos θ and sin 2θ shift terms allowed, degrees (a 1 mm specimen
#: displacement on a 240 mm goniometer: 0.48°; μ = 10 cm⁻¹: 0.12°).
MAX_SHIFT_TERM = 0.5


@dataclasses.dataclass(frozen=True)
class CellFit:
    """A cell refined on observed lines.

    Attributes:
        system: searched system (``cubic`` … ``triclinic``).
        g: (p,) parameters of the system's form.
        gstar: (3, 3) reciprocal metric.
        zero_shift: z in degrees 2θ, the constant term of ``shift``.
        shift: (3,) coefficients of the 2θ shift (observed = true + shift) on
            1, cos θ, sin 2θ (:func:`shift_basis`; the last two 0 unless refined).
        hkl: (m, 3) reflections of the P lattice up to the last line, sorted by Q.
        q_lines: (L,) distinct Q of those reflections; ``line_of`` (m,) maps each
            reflection to its line.
        assigned: (n,) calculated line of each observed line, −1 where unindexed.
        residual: (n,) observed − calculated 2θ (degrees), NaN where unindexed.
        sigma_g: (p,) standard uncertainties of g; ``sigma_zero`` that of z (0 when fixed).
    """

    system: str
    g: np.ndarray
    gstar: np.ndarray
    zero_shift: float
    shift: np.ndarray
    hkl: np.ndarray
    q_lines: np.ndarray
    line_of: np.ndarray
    assigned: np.ndarray
    residual: np.ndarray
    sigma_g: np.ndarray
    sigma_zero: float

    @property
    def n_indexed(self) -> int:
        return int(np.count_nonzero(self.assigned >= 0))

    @property
    def cell(self) -> tuple[np.ndarray, float]:
        return cell_from_metric(self.gstar)


def assign_lines(tt_calc: np.ndarray, tt: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Index of the nearest calculated 2θ of each observed 2θ within ±eps, else −1."""
    if tt_calc.size == 0:
        return np.full(tt.size, -1)
    tt_calc = np.where(np.isfinite(tt_calc), tt_calc, np.inf)  # lines past 180°
    pos = np.clip(np.searchsorted(tt_calc, tt), 1, tt_calc.size - 1) if tt_calc.size > 1 \
        else np.zeros(tt.size, np.int64)
    left = np.maximum(pos - 1, 0)
    pick = np.where(np.abs(tt_calc[left] - tt) <= np.abs(tt_calc[pos] - tt), left, pos)
    return np.where(np.abs(tt_calc[pick] - tt) <= eps, pick, -1)


def _lines(rows: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order of the reflections by Q, distinct Q, and the line of each sorted reflection."""
    q_all = rows @ g
    order = np.argsort(q_all, kind="stable")
    q_lines, line_of = distinct_lines(q_all[order])
    return order, q_lines, line_of


def shift_basis(two_theta: np.ndarray, n_terms: int) -> np.ndarray:
    """(n, n_terms) basis of the 2θ shift: 1 (zero shift), cos θ (specimen displacement,
    Δ2θ = −2s·cos θ/R), sin 2θ (transparency, Δ2θ = −sin 2θ/(2μR))."""
    t = np.radians(np.asarray(two_theta, dtype=np.float64))
    return np.stack([np.ones_like(t), np.cos(t / 2.0), np.sin(t)], axis=1)[:, :n_terms]


def shift_at(shift: np.ndarray, two_theta: np.ndarray) -> np.ndarray:
    """Observed minus true 2θ (degrees) at ``two_theta`` for the shift coefficients."""
    shift = np.asarray(shift, dtype=np.float64)
    return shift_basis(two_theta, shift.size) @ shift


def _solve(coef: np.ndarray, t: np.ndarray, shift: np.ndarray, lam: float, *, n_shift: int,
           max_zero: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One weighted least-squares step from the current shift.

    Returns:
        (g, shift (3,), σ of g then of the shift terms), or None when underdetermined.
    """
    p = coef.shape[1]
    true = t - shift_at(shift, t)
    dq = math.pi / 180.0 * 2.0 * np.sin(np.radians(true)) / lam ** 2  # dQ/d2θ per degree
    w = 1.0 / dq
    a = np.column_stack([coef, dq[:, None] * shift_basis(t, n_shift)]) * w[:, None]
    b = q_of_two_theta(true, lam) * w
    x, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    if rank < a.shape[1]:
        return None
    new = shift.copy()
    new[:n_shift] += x[p:]
    if n_shift and (abs(new[0]) > max_zero or np.any(np.abs(new[1:]) > MAX_SHIFT_TERM)):
        if n_shift > 1:  # the extra terms ran away: one term fewer
            fewer = shift.copy()
            fewer[n_shift - 1] = 0.0
            return _solve(coef, t, fewer, lam, n_shift=n_shift - 1, max_zero=max_zero)
        held = shift.copy()  # held at the bound: refit the cell alone
        held[0] = math.copysign(max_zero, new[0])
        return _solve(coef, t, held, lam, n_shift=0, max_zero=max_zero)
    sigma = np.zeros(p + 3)
    dof = t.size - a.shape[1]
    if dof > 0:
        resid = b - a @ x
        cov = float(resid @ resid) / dof * np.linalg.inv(a.T @ a)
        sigma[: a.shape[1]] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return x[:p], new, sigma


def fit_cell(system: str, g0: np.ndarray, z0: float, tt: np.ndarray, eps: np.ndarray,
             wavelength: float, *, shift_terms: int = 1, displacement: float = 0.0,
             max_zero: float) -> CellFit | None:
    """Refine the cell ``g0`` (and the 2θ shift from a zero shift ``z0``) on lines at
    ``tt`` ± ``eps``.

    Args:
        tt, eps: (n,) observed 2θ and tolerances, degrees.
        shift_terms: shift terms refined: 0 keeps z0; 1 the zero shift; 2 also the
            specimen displacement (cos θ); 3 also the transparency (sin 2θ). Each is
            refined only once :data:`LINES_FOR_SHIFTS` allows it.
        displacement: start value of the cos θ term (degrees).
        max_zero: |zero shift| allowed; a larger fitted value is clipped and held there.

    Returns:
        the fit, or None where the metric is not positive definite or the indexed lines do
        not determine every parameter.
    """
    g = np.asarray(g0, dtype=np.float64).copy()
    shift = np.array([float(z0), float(displacement), 0.0])
    if not is_positive_definite(reciprocal_metric(system, g)):
        return None
    lam = float(wavelength)
    top = min(float(tt.max() + eps.max()) + abs(z0), 179.0)
    hkl, _ = reflections(reciprocal_metric(system, g), float(q_of_two_theta(top, lam)) * Q_MARGIN)
    if hkl.shape[0] == 0:
        return None
    rows = coefficients(system, hkl)
    p = g.size
    sigma = np.zeros(p + 3)
    assigned = np.full(tt.size, -2)
    for _ in range(MAX_ROUNDS):
        order, q_lines, line_of = _lines(rows, g)
        new = assign_lines(two_theta_of_q(q_lines, lam), tt - shift_at(shift, tt), eps)
        if np.array_equal(new, assigned):
            break
        assigned = new
        used = assigned >= 0
        n_used = int(np.count_nonzero(used))
        if n_used < p + 1:
            return None
        # zero shift, + displacement, + transparency as the lines and shift_terms allow
        n_shift = min(shift_terms,
                      int(np.searchsorted(LINES_FOR_SHIFTS, n_used - p, side="right")))
        first = np.searchsorted(line_of, assigned[used])  # one reflection of each line
        step = _solve(rows[order[first]], tt[used], shift, lam, n_shift=n_shift,
                      max_zero=max_zero)
        if step is None:
            return None
        g, shift, sigma = step
        if np.any(rows @ g <= 0) or not is_positive_definite(reciprocal_metric(system, g)):
            return None
    order, q_lines, line_of = _lines(rows, g)
    tt_calc = two_theta_of_q(q_lines, lam)
    assigned = assign_lines(tt_calc, tt - shift_at(shift, tt), eps)
    residual = np.where(assigned >= 0, tt - shift_at(shift, tt)
                        - tt_calc[np.maximum(assigned, 0)], np.nan)
    return CellFit(system=system, g=g, gstar=reciprocal_metric(system, g),
                   zero_shift=float(shift[0]), shift=shift, hkl=hkl[order], q_lines=q_lines,
                   line_of=line_of, assigned=assigned, residual=residual, sigma_g=sigma[:p],
                   sigma_zero=float(sigma[p]))


def cell_uncertainty(fit: CellFit) -> np.ndarray:
    """(6,) standard uncertainties of a, b, c, α, β, γ from those of g (first-order)."""
    base, _ = cell_from_metric(fit.gstar)
    out = np.zeros(6)
    for j, (gj, sj) in enumerate(zip(fit.g, fit.sigma_g, strict=True)):
        if sj == 0.0:
            continue
        step = 1e-6 * abs(gj) if gj != 0 else 1e-9
        g = fit.g.copy()
        g[j] += step
        moved, _ = cell_from_metric(reciprocal_metric(fit.system, g))
        out += ((moved - base) / step * sj) ** 2
    return np.sqrt(out)
