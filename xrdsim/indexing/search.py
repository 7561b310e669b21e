"""The cell search: dichotomy per crystal system, refinement, figures of merit, ranking.

Order (DICVOL's, Boultif & Louër 2004): cubic, tetragonal, hexagonal, orthorhombic,
monoclinic, triclinic, each only while no higher system has a *conclusive* cell (every one
of the first N lines indexed, M_N ≥ ``conclusive_merit``): a lower system would describe the
same lattice with more parameters, or find a smaller cell that systematic absences let
index the same lines (corundum's lines are all indexed by a monoclinic cell of 1/6 its
volume). Within a system the start boxes run in volume shells, smallest first, and the
system stops at the shell where it finds a cell with M_N ≥ conclusive_merit; orthorhombic
and monoclinic run their shells interleaved (:data:`SHELLED_SYSTEMS`), as DICVOL04 does, and
each shell is searched with no unindexed line allowed, then 1, 2, … up to
``max_unindexed`` (a weak line counting half, :data:`WEAK_MISS`) before the next shell
(triclinic start boxes, one per anchor triple, are no volume shells: all of them are
searched with 0 misses, then 1, …).
The whole order runs in passes (:meth:`_Search._passes`): first for sparse cells in the
zero-shift windows of the zero estimates, then wider; once a cell with M_N ≥
conclusive_merit is found, the remaining passes only look for cells smaller than it in its
system and below (:meth:`_Search._volume_limit`).
``max_boxes`` bounds the boxes of one pattern.

Every leaf of the dichotomy is refined by least squares (:mod:`xrdsim.indexing.refine`);
refined cells that agree are one; a cell's centring comes from its absences
(:mod:`xrdsim.indexing.bravais`), its figures of merit from :mod:`xrdsim.indexing.merit`.
Cells of one lattice found in several systems are one, in the highest system, unless the
lower system's score is more than twice as high. Cells rank by M_N / √(1 + unindexed): a
cell twice too large indexes a stray line at half the M_N of the true cell that leaves it
unindexed (LiMnO2: c × 2 at M20 = 53 against 103 with one line of an impurity left), so
the penalty of one unindexed line must be less than that factor 2.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from xrdsim.indexing import dichotomy_kernel as K
from xrdsim.indexing.bravais import allowed, bravais_symbol, choose_centring, line_allowed
from xrdsim.indexing.cell import (
    SYSTEM_CODES,
    n_params,
    q_of_two_theta,
    reduced_cell,
    same_lattice,
    two_theta_of_q,
)
from xrdsim.indexing.lines import ObservedLines
from xrdsim.indexing.merit import N_MERIT, de_wolff, smith_snyder
from xrdsim.indexing.refine import CellFit, assign_lines, cell_uncertainty, fit_cell, shift_at
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import CellSolution
from xrdsim.indexing.subcells import subcell_params
from xrdsim.indexing.tiles import (
    FIRST_SHELL,
    SHELL_RATIO,
    shell_index,
    system_tiles,
    triclinic_tiles,
)
from xrdsim.indexing.zero import zero_candidates

#: Leaves kept per kernel call (a solution's neighbourhood gives tens to hundreds).
MAX_LEAVES = 20_000
#: hkl kept per start box.
MAX_ROWS = 6_000
#: Refined cells are the same when every g agrees to this relative precision.
SAME_FIT_REL = 1e-5
#: Cells of two systems are one lattice when their reduced cells agree this well.
MERGE_LENGTH_REL = 2e-3
MERGE_ANGLE_DEG = 0.3
#: Symmetry order used to keep the highest description of one lattice.
SYMMETRY_RANK = {"triclinic": 0, "monoclinic": 1, "orthorhombic": 2, "tetragonal": 3,
                 "trigonal": 4, "hexagonal": 4, "cubic": 5}
#: Share of ``max_boxes`` one system may use in all (the shares add up to more than 1: the
#: total is the bound; the shares keep one expensive system from starving the next).
BUDGET_SHARE = {"cubic": 0.2, "tetragonal": 0.2, "hexagonal": 0.2, "orthorhombic": 0.4,
                "monoclinic": 0.6, "triclinic": 0.4}
#: Searched lines per unindexed line allowed (de Wolff's two of twenty), and the fewest
#: lines that allow one.
LINES_PER_MISS = 10
MIN_LINES_FOR_MISS = 8
#: A smaller cell is sought below this fraction of the volume of a conclusive one.
SMALLER_CELL = 0.75
#: Lines whose pairs estimate the zero shift (more than the search's 20: the second
#: orders of the first lines lie further out; 40 found it for 92 % of 199 MP-20 line lists
#: with z in ±0.2° against 73 % with 20).
ZERO_LINES = 40
#: Half-width of the zero-shift window about an estimate, in units of the tolerance (the
#: estimate mixes pairs at different angles, where a specimen displacement shifts lines
#: by different amounts).
ZERO_WINDOW = 1.5
#: Systems whose volume shells run interleaved, shell k of each before shell k + 1, as
#: DICVOL04 scans orthorhombic and monoclinic cells shell by shell: the smallest cell of
#: either is met first (a monoclinic pattern no longer pays for every orthorhombic box up
#: to ``max_volume`` before its own first shell).
SHELLED_SYSTEMS = ("orthorhombic", "monoclinic")
#: Start boxes per kernel call at most: the search stops between calls once a good cell
#: is found (a monoclinic shell holds up to 55,000 tiles, most rejected at once).
TILES_PER_CALL = 2_000
#: A higher system's cell of the lattice of a found cell is at most this many times larger
#: (the conventional cell of an F lattice holds four primitive cells).
LARGER_CELL = 4.0
#: A line's tolerance is at least the setting and at most this many times it, widened to
#: 2σ of its fitted position (overlapped and weak peaks are less sure).
MAX_TOLERANCE_FACTOR = 3.0
#: Lines below this % of the strongest are weak: an impurity's or a tube line's (the
#: realistic presets draw them up to 5 %), and an unindexed weak line costs
#: :data:`WEAK_MISS` of the misses allowed (a strong one 1). A cell that leaves only weak
#: lines unindexed, within the misses, with M_N ≥ conclusive_merit ends the search of
#: lower systems as a conclusive one does.
WEAK_LINE = 5.0
WEAK_MISS = 0.5
#: M_N from which a cell that leaves lines unindexed (within the misses allowed) ends the
#: search of lower systems (twice de Wolff's 10: a chance cell rarely reaches it).
SETTLING_MERIT = 20.0
#: ... and widened to this fraction of its FWHM: the position of a broad line is as sure
#: as its shape is symmetric and alone, and asymmetry (transparency, axial divergence) and
#: unresolved neighbours move a fitted maximum by a fraction of the width (simulated `train`
#: scans: after removing the shift, 90 % of the errors below ≈ 0.1 × FWHM,
#: benchmarks/results/indexing_lines_diagnosis.json).
WIDTH_TOLERANCE = 0.1
#: Reflections h k l (with their signs) per coefficient row of the kernel at most, for the
#: systems whose volume the coverage bounds (:meth:`_Search._coverage_volume`), and the
#: margin on the count of lattice points below the last line.
ROW_MULTIPLICITY = {"orthorhombic": 8, "monoclinic": 4}
COVERAGE_MARGIN = 1.5
#: Found cells (the best by score) whose sub-cells are refined (:mod:`.subcells`).
SUBCELL_PARENTS = 8
#: A sub-cell may leave lines unindexed that its parent indexes only where each is below
#: this % of the strongest line (an impurity's, a tube line's, or a weak superstructure
#: reflection: both cells are then kept and the score ranks them), and its misses may cost
#: this much more than the search allows (a supercell indexes a stray line by chance).
SUBCELL_LINE = 10.0
SUBCELL_EXTRA_MISS = 1.0


def search_lines(lines: ObservedLines, settings: IndexingSettings, n: int | None = None
                 ) -> np.ndarray:
    """Indices of the lines the search must index: the first ``n`` (default ``n_lines``;
    ascending 2θ) of those above ``search_min_intensity`` % of the strongest."""
    if len(lines) == 0:
        return np.zeros(0, np.int64)
    strong = np.flatnonzero(lines.intensity >= settings.search_min_intensity / 100.0
                            * lines.intensity.max())
    return strong[: settings.n_lines if n is None else n]


def displacement_shape(two_theta: np.ndarray) -> np.ndarray:
    """(n,) w_i = cos θ_i − 1: the shape of a specimen displacement's 2θ shift
    (Δ2θ = −2s·cos θ/R = D·cos θ) once its value at 2θ = 0 is counted in the zero shift;
    the search's boxes carry a range of D (:mod:`.dichotomy_kernel`)."""
    return np.ascontiguousarray(np.cos(np.radians(two_theta) / 2.0) - 1.0)


def tolerances(lines: ObservedLines, settings: IndexingSettings) -> np.ndarray:
    """(n,) 2θ tolerance of each line, degrees: the setting, widened to 2σ of the fitted
    position and to :data:`WIDTH_TOLERANCE` × the line's FWHM, at most
    :data:`MAX_TOLERANCE_FACTOR` × the setting."""
    wide = np.maximum(2.0 * lines.sigma, WIDTH_TOLERANCE * lines.fwhm)
    return np.clip(wide, settings.tolerance, MAX_TOLERANCE_FACTOR * settings.tolerance)


def merge_windows(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping zero-shift windows joined into one, in the order of their first member
    (the estimates come best first): two estimates 0.02° apart gave windows overlapping by
    80 %, each searched in full (a monoclinic pattern spent 2 × 720,000 boxes on them)."""
    groups: list[list[float]] = []  # [lo, hi, rank of the first member]
    for rank, (lo, hi) in sorted(enumerate(windows), key=lambda x: x[1]):
        if groups and lo <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], hi)
            groups[-1][2] = min(groups[-1][2], rank)
        else:
            groups.append([lo, hi, rank])
    return [(lo, hi) for lo, hi, _ in sorted(groups, key=lambda g: g[2])]


@functools.lru_cache(maxsize=64)
def _cached_shells(system: str, min_length: float, max_length: float, ratio: float,
                   max_volume: float) -> tuple[np.ndarray, ...]:
    tiles, vmin = system_tiles(system, min_length=min_length, max_length=max_length,
                               ratio=ratio, max_volume=max_volume)
    index = shell_index(vmin)
    out = tuple(tiles[index == k] for k in range(int(index.max(initial=-1)) + 1))
    for tiles_k in out:
        tiles_k.setflags(write=False)
    return out


def _shells(system: str, s: IndexingSettings, *, below: float | None = None
            ) -> tuple[np.ndarray, ...]:
    """The start boxes of ``system`` per volume shell (:func:`~xrdsim.indexing.tiles.shell_index`
    of their smallest volume), smallest volume first within each; ``below``: only the
    shells that start below that volume."""
    shells = _cached_shells(system, s.min_length, s.max_length, s.tile_ratio, s.max_volume)
    if below is None:
        return shells
    return tuple(sh for k, sh in enumerate(shells)
                 if k == 0 or FIRST_SHELL * SHELL_RATIO ** (k - 1) < below)


def max_calculated_lines(tt: np.ndarray, eps: np.ndarray, wavelength: float,
                         coverage: float) -> int:
    """Most calculated lines a cell may have below the last observed line.

    With L lines spread over [0, Q_N] and each observed line allowed a window w_i (its ±ε
    in Q), a line placed at random meets a calculated one with probability ≈ L·w̄/Q_N.
    Beyond ``coverage`` of the range the box test cannot tell a cell from chance (and M_N
    of such a cell stays small), so those cells are not searched:
    L ≤ coverage · Q_N / w̄.
    """
    if tt.size == 0:
        return 0
    q_n = float(q_of_two_theta(tt.max(), wavelength))
    window = (q_of_two_theta(tt + eps, wavelength) - q_of_two_theta(tt - eps, wavelength))
    return int(coverage * q_n / float(window.mean()))


def _sums(system: str, top: int) -> np.ndarray:
    """sums[s] = 1 where s = h²+k²+l² (cubic), h²+k² (tetragonal), h²+hk+k² (hexagonal)."""
    out = np.zeros(top + 1, np.int64)
    if system not in ("cubic", "tetragonal", "hexagonal"):
        return out
    m = int(math.isqrt(top)) + 1
    r = np.arange(-m, m + 1)
    if system == "cubic":
        h, k, l = np.meshgrid(r, r, r, indexing="ij")
        s = (h * h + k * k + l * l).ravel()
    else:
        h, k = np.meshgrid(r, r, indexing="ij")
        s = (h * h + k * k + (h * k if system == "hexagonal" else 0)).ravel()
    out[s[s <= top]] = 1
    return out


class _Search:
    """State of one pattern's search: the lines, the fits found per system, the stats."""

    def __init__(self, lines: ObservedLines, settings: IndexingSettings):
        self.settings = settings
        self.lam = lines.wavelength
        self.all_tt = lines.two_theta
        self.all_eps = tolerances(lines, settings)
        self.use = search_lines(lines, settings)
        self.tt = np.ascontiguousarray(self.all_tt[self.use])
        self.eps = np.ascontiguousarray(self.all_eps[self.use])
        self.w = displacement_shape(self.tt)
        self.relative = lines.intensity[self.use] / max(lines.intensity.max(initial=0), 1e-300)
        strong = self.relative >= WEAK_LINE / 100.0
        self.cost = np.ascontiguousarray(np.where(strong, 1.0, WEAK_MISS))
        z = settings.max_zero_shift
        top = float(self.tt.max() + self.eps.max() + z) if self.tt.size else 0.0
        self.qtop = float(q_of_two_theta(min(top, 179.0), self.lam))
        self.max_lines = 0
        self.fits: dict[str, list[tuple[CellFit, CellSolution]]] = {}
        self.stats: dict[str, Any] = {}
        # one unindexed line per 10 searched (one from 8 lines on), at most max_unindexed:
        # with few lines, a wrong cell that drops two of them fits the rest better than the
        # true cell does
        n = self.tt.size
        self.max_miss = min(settings.max_unindexed,
                            max(n // LINES_PER_MISS, int(n >= MIN_LINES_FOR_MISS)))
        self.zero = zero_candidates(self.all_tt[search_lines(lines, settings, ZERO_LINES)],
                                    settings.max_zero_shift)
        self.boxes = 0
        self.budget_spent = False
        self.overflow = False

    # -- kernel runs -------------------------------------------------------------------
    def _kernel(self, system: str, tiles: np.ndarray, max_miss: float, budget: int,
                window: tuple[float, float]) -> tuple[np.ndarray, int, int]:
        s = self.settings
        code = SYSTEM_CODES[system]
        if system == "hexagonal":
            amin = 4.0 / (3.0 * s.max_length ** 2)
        else:
            amin = 1.0 / s.max_length ** 2
        sums = _sums(system, int(self.qtop / amin) + 1)
        cap = int(s.max_length * math.sqrt(self.qtop)) + 1
        caps = np.array([cap, cap, cap], np.int64)
        p = n_params(system)
        leaves = np.empty((MAX_LEAVES, p + 2, 2))
        d = s.max_displacement
        n, boxes, status = K.dichotomy(code, np.ascontiguousarray(tiles, dtype=np.float64),
                                       window[0], window[1], -d, d, self.tt, self.w, self.eps,
                                       self.cost, self.lam, sums, caps, float(max_miss),
                                       self.max_lines,
                                       s.stop_fraction, MAX_ROWS, budget, leaves)
        return leaves[:n], boxes, status

    def _miss_cost(self, fit: CellFit) -> float:
        """What the search lines a cell leaves unindexed cost (:data:`WEAK_MISS` a weak one)."""
        return float(self.cost[fit.assigned < 0].sum())

    def _settles(self, fit: CellFit, sol: CellSolution) -> bool:
        """The cell ends the search of lower systems: conclusive; or, within the misses
        allowed, M_N ≥ conclusive_merit with only weak lines (an impurity's) unindexed, or
        M_N ≥ :data:`SETTLING_MERIT` (as DICVOL stops at the first system with a solution:
        searching the lower systems of a trigonal pattern with one Kβ line unindexed cost
        30 CPU-s and cannot rank the lattice's own cell lower)."""
        within = self._miss_cost(fit) <= self.max_miss + 1e-9
        weak = bool(np.all(self.cost[fit.assigned < 0] < 1.0))
        return sol.conclusive or (within and (
            sol.m20 >= SETTLING_MERIT or (sol.m20 >= self.settings.conclusive_merit and weak)))

    def _refine_leaves(self, system: str, leaves: np.ndarray, max_miss: float) -> int:
        """Refine the leaves not explained by a cell already found; returns cells added."""
        s = self.settings
        p = n_params(system)
        found = self.fits.setdefault(system, [])
        added = 0
        for leaf in leaves:
            lo, hi = leaf[:p, 0], leaf[:p, 1]
            width = hi - lo
            if any(np.all((f.g >= lo - width) & (f.g <= hi + width)) for f, _ in found):
                continue
            fit = self._fit_leaf(system, leaf)
            if fit is None or self._miss_cost(fit) > max_miss + 1e-9:
                continue
            if any(np.all(np.abs(f.g - fit.g) <= SAME_FIT_REL * np.abs(fit.g).max())
                   for f, _ in found):
                continue
            _, volume = fit.cell
            if volume > s.max_volume:
                continue
            found.append((fit, self.assess(fit)))
            added += 1
        return added

    def _fit_leaf(self, system: str, leaf: np.ndarray) -> CellFit | None:
        """The leaf's cell refined with the settings' shift terms from the leaf's shift at
        the median line; where that leaves lines unindexed and a displacement is searched, also
        with the displacement term, from the leaf's D (z + D·(cos θ − 1) = (z − D) +
        D·cos θ), kept when it indexes more lines. (Refining the displacement on every
        cell would bias clean scans' zero shifts: see :mod:`.refine`.)"""
        s = self.settings
        p = n_params(system)
        g0 = leaf[:p].mean(axis=1)
        z, d = float(leaf[p].mean()), float(leaf[p + 1].mean())
        fit = fit_cell(system, g0, z + d * float(np.median(self.w)), self.tt, self.eps,
                       self.lam, shift_terms=s.shift_terms, max_zero=s.max_zero_shift)
        if s.max_displacement > 0 and (fit is None or fit.n_indexed < self.tt.size):
            moved = fit_cell(system, g0, z - d, self.tt, self.eps, self.lam,
                             shift_terms=max(s.shift_terms, 2), displacement=d,
                             max_zero=s.max_zero_shift + s.max_displacement)
            if moved is not None and (fit is None or moved.n_indexed > fit.n_indexed):
                return moved
        return fit

    def add_subcells(self) -> None:
        """Refine the sub-cells (:func:`~xrdsim.indexing.subcells.subcell_params`) of the
        :data:`SUBCELL_PARENTS` best cells and keep each that indexes the lines as well but
        for lines below :data:`SUBCELL_LINE` % (at most :data:`SUBCELL_EXTRA_MISS` more
        misses than the search allows): the ranking then weighs its fewer calculated lines
        against the lines it leaves."""
        s = self.settings
        parents = sorted((fs for fits in self.fits.values() for fs in fits
                          if fs[1].m20 >= s.min_merit), key=lambda fs: -fs[1].score)
        for parent, _ in parents[:SUBCELL_PARENTS]:
            found = self.fits[parent.system]
            moved = bool(parent.shift[1] != 0.0)
            for g0 in subcell_params(parent.system, parent.g):
                fit = fit_cell(parent.system, g0, float(parent.shift[0]), self.tt, self.eps,
                               self.lam, shift_terms=max(s.shift_terms, 2 * moved),
                               displacement=float(parent.shift[1]),
                               max_zero=s.max_zero_shift + moved * s.max_displacement)
                if fit is None or not self._subcell_ok(parent, fit):
                    continue
                if any(np.all(np.abs(f.g - fit.g) <= SAME_FIT_REL * np.abs(fit.g).max())
                       for f, _ in found):
                    continue
                found.append((fit, self.assess(fit)))

    def _subcell_ok(self, parent: CellFit, fit: CellFit) -> bool:
        """The sub-cell ``fit`` of ``parent`` is kept (see :meth:`add_subcells`)."""
        lost = (parent.assigned >= 0) & (fit.assigned < 0)
        cell, _ = fit.cell
        return (self._miss_cost(fit) <= self.max_miss + SUBCELL_EXTRA_MISS + 1e-9
                and bool(np.all(self.relative[lost] < SUBCELL_LINE / 100.0))
                and float(np.min(cell[:3])) >= self.settings.min_length)

    def _good(self, max_miss: float, system: str, since: int = 0) -> bool:
        """A cell of ``system`` found after its first ``since`` fits, with M_N ≥
        conclusive_merit and unindexed lines costing at most ``max_miss``."""
        return any(sol.m20 >= self.settings.conclusive_merit
                   and self._miss_cost(fit) <= max_miss + 1e-9
                   for fit, sol in self.fits.get(system, [])[since:])

    def _conclusive_rank(self) -> int:
        """Symmetry rank of the highest system with a conclusive cell, −1 when none."""
        ranks = [SYMMETRY_RANK[sol.crystal_system] for fits in self.fits.values()
                 for fit, sol in fits if self._settles(fit, sol)]
        return max(ranks, default=-1)

    def _run(self, system: str, tiles: np.ndarray, miss: int, window: tuple[float, float]
             ) -> None:
        stats = self.stats.setdefault(system, {"boxes": 0, "leaves": 0, "cells": 0})
        total = self.settings.max_boxes
        budget = min(total - self.boxes, int(BUDGET_SHARE[system] * total) - stats["boxes"])
        if budget <= 0 or tiles.shape[0] == 0:
            self.budget_spent |= self.boxes >= total
            stats["budget_spent"] = budget <= 0
            return
        leaves, boxes, status = self._kernel(system, tiles, miss, budget, window)
        self.boxes += int(boxes)
        stats["boxes"] += int(boxes)
        stats["leaves"] += int(leaves.shape[0])
        stats["budget_spent"] = bool(status & K.STATUS_BOXES_SPENT)
        self.budget_spent |= self.boxes >= total
        self.overflow |= bool(status & (K.STATUS_ROWS_FULL | K.STATUS_LEAVES_FULL))
        stats["cells"] += self._refine_leaves(system, leaves, miss)

    def _passes(self) -> list[tuple[float, bool]]:
        """(coverage limit, whole zero-shift range?) of each pass over the systems, cheapest
        first: the sparse cells (coverage ``max_coverage / 2``) in the narrow windows about
        the zero estimates; then the whole zero range where the estimates led nowhere; then
        the same up to ``max_coverage``. Within a pass each volume shell is searched with 0,
        1, … unindexed lines allowed before the next shell (:meth:`run`)."""
        s = self.settings
        zero_modes = (False, True) if self.zero else (True,)
        return [(cov, whole) for cov in (s.max_coverage / 2, s.max_coverage)
                for whole in zero_modes]

    def _windows(self, system: str, whole: bool) -> list[tuple[float, float]]:
        """Zero-shift windows of one system in one pass: the whole range in the "whole"
        passes, else ±1.5 tolerances about each estimate of
        :func:`~xrdsim.indexing.zero.zero_candidates` (the whole range costs a tetragonal
        search of a monoclinic pattern 400,000 boxes), widened by what a displacement up to
        ``max_displacement`` moves the median line (the estimates are exact for a constant
        shift only); once a conclusive cell is found, ±1.5 tolerances about its refined
        shift at 2θ = 0 in every pass. The windows are of z, the shift at 2θ = 0."""
        z = self.settings.max_zero_shift
        half = ZERO_WINDOW * self.settings.tolerance
        # only a conclusive cell fixes the zero shift: one that merely settles the search
        # may be a wrong higher cell (hexagonal mp-1205726: a tetragonal cell of M20 ≥ 20
        # with two lines unindexed narrowed the hexagonal search to its zero shift)
        conclusive = [sol for fits in self.fits.values() for _, sol in fits if sol.conclusive]
        if conclusive:  # the zero shift is known: that of the best conclusive cell
            c = float(sum(max(conclusive, key=lambda sol: sol.score).shift[:2]))
            return [(max(c - half, -z), min(c + half, z))]
        half += self.settings.max_displacement * float(np.median(np.abs(self.w)))
        if whole:
            return [(-z, z)]
        return merge_windows([(max(c - half, -z), min(c + half, z)) for c, _ in self.zero])

    def _volume_limit(self, system: str) -> float | None:
        """Volume below which the remaining passes search ``system``: :data:`SMALLER_CELL`
        × that of the best cell with M_N ≥ conclusive_merit when ``system`` is that cell's
        or a lower one, :data:`LARGER_CELL` × it for a higher system, None while there is
        no such cell. A larger cell of a lower system could not rank above it; a smaller one
        may, when the found cell is a supercell that indexes a stray line by chance (rutile
        MnO2 with one impurity line: c × 5 at M14 = 61 against the true cell's ≈ 300 with
        that line unindexed); and a higher system may describe the same lattice better (a
        cubic F lattice first found as tetragonal I), in a cell at most 4× larger."""
        good = [sol for fits in self.fits.values() for _, sol in fits
                if sol.m20 >= self.settings.conclusive_merit]
        if not good:
            return None
        best = max(good, key=lambda sol: sol.score)
        if SYMMETRY_RANK[system] > SYMMETRY_RANK[best.crystal_system]:
            return LARGER_CELL * best.volume
        return SMALLER_CELL * best.volume

    def _coverage_volume(self, system: str) -> float | None:
        """Volume above which a cell of ``system`` has more calculated lines below the last
        search line than this pass allows (``max_lines``), None where no bound is used.

        A sphere of radius √Q in reciprocal space holds (4π/3)·Q^{3/2}·V lattice points, and
        each coefficient row of the kernel stands for at most :data:`ROW_MULTIPLICITY`
        of them (h k l with their signs), so a cell of volume V has at least that count
        divided by the multiplicity below Q; with :data:`COVERAGE_MARGIN` for the sphere's
        boundary. Without this bound, a pass at half the coverage searched every monoclinic
        shell up to ``max_volume`` although no cell above ≈ 400 Å³ could pass it, and spent
        the budget before the pass at full coverage reached a 291 Å³ cell."""
        if system not in ROW_MULTIPLICITY or self.tt.size == 0:
            return None
        s = self.settings
        last = int(np.argmax(self.tt))
        q = float(q_of_two_theta(self.tt[last] - self.eps[last] - s.max_zero_shift
                                 - s.max_displacement, self.lam))
        points = COVERAGE_MARGIN * ROW_MULTIPLICITY[system] * max(self.max_lines, 1)
        return points / (4.0 * math.pi / 3.0 * q ** 1.5)

    def _stopped(self, system: str) -> bool:
        """No more boxes for ``system``: a higher system has a conclusive cell, or a budget
        ran out."""
        return (SYMMETRY_RANK[system] < self._conclusive_rank() or self.budget_spent
                or bool(self.stats.get(system, {}).get("budget_spent")))

    def _shell_runs(self, system: str, whole: bool, done: set[tuple]
                    ) -> list[tuple[tuple[float, float], tuple[np.ndarray, ...]]]:
        """(zero-shift window, start boxes per volume shell) of ``system`` still to search
        in this pass; triclinic boxes come one per anchor triple."""
        out = []
        for window in self._windows(system, whole):
            key = (system, window, self.max_lines)
            if key in done or self._stopped(system):
                continue
            done.add(key)
            if system == "triclinic":
                moved = self.settings.max_displacement * np.abs(self.w)
                lo = q_of_two_theta(self.tt - window[1] - moved - self.eps, self.lam)
                hi = q_of_two_theta(self.tt - window[0] + moved + self.eps, self.lam)
                tiles = triclinic_tiles(np.stack([lo, hi], axis=1),
                                        n_anchor=self.settings.triclinic_anchor_lines)
                out.append((window, tuple(tiles[i: i + 1] for i in range(tiles.shape[0]))))
            else:
                limits = [v for v in (self._volume_limit(system), self._coverage_volume(system))
                          if v is not None]
                out.append((window, _shells(system, self.settings,
                                            below=min(limits, default=None))))
        return out

    def run(self) -> None:
        """Every pass, every group of systems, every volume shell (see the module)."""
        done: set[tuple] = set()
        groups = [("cubic",), ("tetragonal",), ("hexagonal",)]
        groups += [SHELLED_SYSTEMS, ("triclinic",)]
        for coverage, whole in self._passes():
            self.max_lines = max_calculated_lines(self.tt, self.eps, self.lam, coverage)
            for group in groups:
                group = tuple(g for g in group if g in self.settings.searched)
                runs = {system: self._shell_runs(system, whole, done) for system in group}
                # a good cell ends the group's shells only when this pass found it: a
                # supercell found before must not stop the search for the smaller cell
                # (LiMnO2.xy: b × 2 indexes every line, the true cell all but an impurity's)
                since = {system: len(self.fits.get(system, [])) for system in group}
                depth = max((len(shells) for r in runs.values() for _, shells in r), default=0)
                # shell k of every system of the group with 0, 1, … misses, then shell k + 1:
                # a small cell that leaves an impurity line unindexed comes before every
                # larger cell (a pass of 0 misses over every shell spent a monoclinic
                # pattern's budget before its 291 Å³ cell with one Kβ line unindexed)
                if group == ("triclinic",):  # anchor triples, not volume shells: all of them
                    for miss in range(self.max_miss + 1):  # with 0 misses first
                        if any(self._shell(group, runs, k, since, (miss,)) for k in range(depth)):
                            break
                else:
                    for k in range(depth):
                        if self._shell(group, runs, k, since, range(self.max_miss + 1)):
                            break
            if self.budget_spent:
                break
        self.stats["budget_spent"] = self.budget_spent
        self.stats["buffers_full"] = self.overflow
        self.stats["boxes"] = self.boxes
        self.stats["zero_candidates"] = [round(c, 4) for c, _ in self.zero]

    def _shell(self, group: tuple[str, ...], runs: dict, k: int, since: dict[str, int],
               misses) -> bool:
        """Search shell ``k`` of the group's systems with each number of misses of
        ``misses`` in turn; True once a good cell (:meth:`_good`) is found."""
        for miss in misses:
            for system in group:
                for window, shells in runs[system]:
                    if k >= len(shells):
                        continue
                    # in chunks of tiles: a shell's later tiles are not searched once a
                    # good cell is found (tiles ascend in smallest volume)
                    for start in range(0, shells[k].shape[0], TILES_PER_CALL):
                        if self._stopped(system) or self._good(miss, system, since[system]):
                            break
                        self._run(system, shells[k][start: start + TILES_PER_CALL], miss,
                                  window)
            if any(self._good(miss, system, since[system]) for system in group):
                return True
        return False

    # -- one refined cell -> a solution ------------------------------------------------
    def assess(self, fit: CellFit) -> CellSolution:
        s = self.settings
        lam = self.lam
        n_lines = fit.q_lines.size
        tt_lines = two_theta_of_q(fit.q_lines, lam)  # true 2θ of the calculated lines
        true = self.tt - shift_at(fit.shift, self.tt)  # observed lines, shift removed
        hkl = fit.hkl
        centring = choose_centring(fit.system, hkl, fit.line_of, n_lines, fit.assigned,
                                   tt_lines, true, self.eps)
        if centring == "Rrev":  # reverse setting → obverse: (h, k, l) → (−h, −k, l)
            hkl = hkl * np.array([-1, -1, 1])
            centring = "R"
        ok = line_allowed(centring, hkl, fit.line_of, n_lines)
        n = min(N_MERIT, self.tt.size)
        assigned = fit.assigned[:n]
        indexed = assigned >= 0
        q_calc = np.where(indexed, fit.q_lines[np.maximum(assigned, 0)], np.nan)
        m20 = de_wolff(q_of_two_theta(true[:n], lam), q_calc, fit.q_lines[ok])
        tt_calc = np.where(indexed, tt_lines[np.maximum(assigned, 0)], np.nan)
        f_n, delta, n_poss = smith_snyder(true[:n], tt_calc, tt_lines[ok])
        n_unindexed = int(np.count_nonzero(~indexed))
        allowed_lines = np.flatnonzero(ok)
        every = assign_lines(tt_lines[allowed_lines],
                             self.all_tt - shift_at(fit.shift, self.all_tt), self.all_eps)
        every = np.where(every >= 0, allowed_lines[np.maximum(every, 0)], -1)
        rep = _representatives(hkl, fit.line_of, n_lines, allowed(centring, hkl))
        seen = tt_lines + shift_at(fit.shift, np.nan_to_num(tt_lines))  # observed scale
        cell, volume = fit.cell
        system = "trigonal" if fit.system == "hexagonal" and centring == "R" else fit.system
        last = float(self.all_tt.max()) + 1.0
        return CellSolution(
            crystal_system=system, bravais_lattice=bravais_symbol(fit.system, centring),
            centring=centring, cell=tuple(float(x) for x in cell),
            cell_esd=tuple(float(x) for x in cell_uncertainty(fit)), volume=float(volume),
            zero_shift=float(fit.zero_shift), shift=tuple(float(x) for x in fit.shift),
            m20=float(m20), f_n=float(f_n), f_n_delta=float(delta), f_n_possible=int(n_poss),
            n_merit=int(n), n_unindexed=n_unindexed,
            conclusive=bool(n_unindexed == 0 and m20 >= s.conclusive_merit),
            hkl=tuple(None if j < 0 else rep[j] for j in every),
            two_theta_calc=tuple(None if j < 0 else float(seen[j]) for j in every),
            unindexed=tuple(int(i) for i in np.flatnonzero(every < 0)),
            ticks=tuple(float(t) for t in seen[ok & (seen <= last)]),
            score=float(m20 / math.sqrt(1 + n_unindexed)))


def _representatives(hkl: np.ndarray, line_of: np.ndarray, n_lines: int, ok: np.ndarray
                     ) -> list[tuple[int, int, int] | None]:
    """One hkl per calculated line among those the centring allows: the fewest negative
    indices, then the lexicographically largest (as :func:`xrdsim.compute_peaks`)."""
    out: list[tuple[int, int, int] | None] = [None] * n_lines
    starts = np.searchsorted(line_of, np.arange(n_lines + 1))
    for j in range(n_lines):
        members = hkl[starts[j]: starts[j + 1]][ok[starts[j]: starts[j + 1]]]
        if members.shape[0]:
            keys = [(int(np.count_nonzero(m < 0)), tuple(-int(x) for x in m)) for m in members]
            out[j] = tuple(int(x) for x in members[min(range(len(keys)), key=keys.__getitem__)])
    return out


def _merge(solutions: list[CellSolution]) -> list[CellSolution]:
    """One solution per lattice: the highest system unless a lower one scores > 2× higher."""
    kept: list[tuple[CellSolution, np.ndarray]] = []
    for sol in sorted(solutions, key=lambda x: -x.score):
        red = reduced_cell(sol.cell, sol.centring)
        for i, (other, other_red) in enumerate(kept):
            if same_lattice(red, other_red, length_rel=MERGE_LENGTH_REL,
                            angle_deg=MERGE_ANGLE_DEG):
                if (SYMMETRY_RANK[sol.crystal_system] > SYMMETRY_RANK[other.crystal_system]
                        and 2.0 * sol.score >= other.score):
                    kept[i] = (sol, red)
                break
        else:
            kept.append((sol, red))
    return sorted((s for s, _ in kept), key=lambda x: -x.score)


def search_cells(lines: ObservedLines, settings: IndexingSettings
                 ) -> tuple[list[CellSolution], dict[str, Any], str | None, int]:
    """Cells that index ``lines``, best first, with the search statistics.

    Returns:
        (solutions, stats per system, reason when there is none, lines searched).
    """
    run = _Search(lines, settings)
    n = int(run.tt.size)
    if n < settings.min_lines:
        return [], {}, (f"{len(lines)} line(s) found, {n} of them above "
                        f"{settings.search_min_intensity:g} % of the strongest: indexing needs "
                        f"at least {settings.min_lines}"), n
    run.run()
    run.add_subcells()
    solutions = [sol for fits in run.fits.values() for _, sol in fits
                 if sol.m20 >= settings.min_merit]
    solutions = _merge(solutions)[: settings.top]
    reason = None
    if not solutions:
        reason = (f"no cell of {', '.join(settings.searched)} up to "
                  f"{settings.max_volume:g} Å³ indexes the first {n} lines with at most "
                  f"{run.max_miss} unindexed and M{min(n, N_MERIT)} ≥ "
                  f"{settings.min_merit:g}")
    return solutions, run.stats, reason, n
