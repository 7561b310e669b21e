"""Bravais lattice of an indexed cell from the centring absences of its lines.

A centred lattice in its conventional cell has no reflections that break the centring
condition (International Tables Vol. A, Table 2.2.13.1): I h+k+l = 2n; F h, k, l all even
or all odd; C h+k = 2n; A k+l = 2n; B h+l = 2n; R (hexagonal axes, obverse) −h+k+l = 3n.
A centring is *decisive* when every indexed line has a reflection that obeys it and at
least :data:`MIN_ABSENT` lines of the primitive lattice that break it fall inside the
observed range with no observed line near them; the most restrictive decisive centring
wins, else the lattice stays primitive.
"""

from __future__ import annotations

import numpy as np

#: Centrings tried per searched system, most restrictive first.
CENTRINGS: dict[str, tuple[str, ...]] = {
    "cubic": ("F", "I"), "tetragonal": ("I",), "hexagonal": ("R", "Rrev"),
    "orthorhombic": ("F", "I", "C", "A", "B"), "monoclinic": ("C", "A", "I"),
    "triclinic": (),
}
#: Lines of the primitive lattice that must be missing for a centring to count as seen.
MIN_ABSENT = 3
#: Pearson letter of each searched system.
FAMILY = {"cubic": "c", "tetragonal": "t", "hexagonal": "h", "orthorhombic": "o",
          "monoclinic": "m", "triclinic": "a"}


def allowed(centring: str, hkl: np.ndarray) -> np.ndarray:
    """(n,) True where reflection hkl obeys the centring (``P`` allows all)."""
    h, k, l = np.asarray(hkl, dtype=np.int64).reshape(-1, 3).T
    if centring == "P":
        return np.ones(h.size, bool)
    if centring == "I":
        return (h + k + l) % 2 == 0
    if centring == "F":
        return ((h % 2) == (k % 2)) & ((k % 2) == (l % 2))
    if centring == "C":
        return (h + k) % 2 == 0
    if centring == "A":
        return (k + l) % 2 == 0
    if centring == "B":
        return (h + l) % 2 == 0
    if centring == "R":
        return (-h + k + l) % 3 == 0
    if centring == "Rrev":
        return (h - k + l) % 3 == 0
    raise ValueError(f"unknown centring {centring!r}")


def bravais_symbol(system: str, centring: str) -> str:
    """Pearson symbol: cP cI cF tP tI hP hR oP oS oI oF mP mC aP."""
    letter = {"C": "S", "A": "S", "B": "S", "Rrev": "R"}.get(centring, centring)
    if system == "monoclinic" and letter in ("S", "I"):
        letter = "C"
    return FAMILY[system] + letter


def line_allowed(centring: str, hkl: np.ndarray, line_of: np.ndarray, n_lines: int
                 ) -> np.ndarray:
    """(n_lines,) True where a calculated line has at least one reflection the centring allows."""
    out = np.zeros(n_lines, bool)
    np.logical_or.at(out, line_of, allowed(centring, hkl))
    return out


def choose_centring(system: str, hkl: np.ndarray, line_of: np.ndarray, n_lines: int,
                    assigned: np.ndarray, tt_lines: np.ndarray, tt_obs: np.ndarray,
                    eps: np.ndarray) -> str:
    """The most restrictive decisive centring of a refined cell, or ``"P"``.

    Args:
        hkl, line_of: the P lattice's reflections and the calculated line of each.
        n_lines: number of calculated lines; ``tt_lines`` their 2θ (degrees, with the zero).
        assigned: calculated line of each observed line (−1 unindexed).
        tt_obs, eps: observed 2θ and tolerances (degrees).
    """
    indexed = assigned[assigned >= 0]
    if indexed.size == 0:
        return "P"
    lo, hi = tt_obs.min() - eps.max(), tt_obs.max() + eps.max()
    inside = (tt_lines >= lo) & (tt_lines <= hi)
    seen = np.abs(tt_lines[:, None] - tt_obs[None, :]).min(axis=1) <= eps.max() \
        if tt_obs.size else np.zeros(n_lines, bool)
    for centring in CENTRINGS[system]:
        ok = line_allowed(centring, hkl, line_of, n_lines)
        if not ok[indexed].all():
            continue
        if np.count_nonzero(~ok & inside & ~seen) >= MIN_ABSENT:
            return centring
    return "P"
