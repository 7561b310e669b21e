"""Results of an indexing: candidate cells and the run that found them."""

from __future__ import annotations

import dataclasses
from typing import Any

from xrdsim.indexing.lines import ObservedLines
from xrdsim.indexing.settings import IndexingSettings


@dataclasses.dataclass(frozen=True)
class CellSolution:
    """One indexed cell.

    Attributes:
        crystal_system: cubic, tetragonal, trigonal (a rhombohedral lattice), hexagonal,
            orthorhombic, monoclinic or triclinic. A hexagonal metric with a primitive
            lattice is reported as hexagonal: trigonal P groups share it.
        bravais_lattice: Pearson symbol (cP cI cF tP tI hP hR oP oS oI oF mP mC aP); the
            centring is only set where the absences are decisive (see ``bravais``).
        centring: the centring letter in the cell as given (P I F C A B R).
        cell: (a, b, c in Å, α, β, γ in degrees) of the conventional cell (hexagonal axes
            for hR; monoclinic b unique, β ≥ 90°).
        cell_esd: standard uncertainties of ``cell`` from the least squares.
        volume: Å³.
        zero_shift: refined zero shift, degrees 2θ (observed = true + shift).
        shift: the refined 2θ shift's coefficients (degrees) on 1, cos θ and sin 2θ: zero
            shift, specimen displacement and transparency (the last two 0 unless the
            settings' ``shift_terms`` refine them, see :func:`xrdsim.indexing.refine.fit_cell`).
        m20: de Wolff's M_N with N = ``n_merit`` (M20 when 20 lines were used).
        f_n: Smith & Snyder's F_N; ``f_n_delta`` its ⟨|Δ2θ|⟩ (°), ``f_n_possible`` N_poss.
        n_merit: N of the figures of merit.
        n_unindexed: lines of the first N left unindexed.
        conclusive: every one of the first N lines indexed and M_N ≥ the settings'
            ``conclusive_merit``.
        hkl: per observed line (all found lines, ascending 2θ) its hkl, or None.
        two_theta_calc: per observed line the calculated 2θ (with the zero shift), or None.
        unindexed: indices of the observed lines left unindexed.
        ticks: 2θ of every calculated line up to the last observed one (with the zero).
        score: the ranking key, M_N / √(1 + n_unindexed).
    """

    crystal_system: str
    bravais_lattice: str
    centring: str
    cell: tuple[float, ...]
    cell_esd: tuple[float, ...]
    volume: float
    zero_shift: float
    shift: tuple[float, float, float]
    m20: float
    f_n: float
    f_n_delta: float
    f_n_possible: int
    n_merit: int
    n_unindexed: int
    conclusive: bool
    hkl: tuple[tuple[int, int, int] | None, ...]
    two_theta_calc: tuple[float | None, ...]
    unindexed: tuple[int, ...]
    ticks: tuple[float, ...]
    score: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hkl"] = [None if h is None else list(h) for h in self.hkl]
        for key in ("cell", "cell_esd", "shift", "two_theta_calc", "unindexed", "ticks"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellSolution:
        d = dict(data)
        d["hkl"] = tuple(None if h is None else tuple(int(x) for x in h) for h in d["hkl"])
        for key in ("cell", "cell_esd", "shift", "two_theta_calc", "unindexed", "ticks"):
            d[key] = tuple(d[key])
        return cls(**d)

    def describe(self) -> str:
        """One line: system, lattice, cell, V and the figures of merit."""
        a, b, c, al, be, ga = self.cell
        return (f"{self.crystal_system} {self.bravais_lattice}  a={a:.5f} b={b:.5f} c={c:.5f} "
                f"α={al:.3f} β={be:.3f} γ={ga:.3f}  V={self.volume:.2f} Å³  "
                f"M{self.n_merit}={self.m20:.1f}  F{self.n_merit}={self.f_n:.1f}"
                f"({self.f_n_delta:.4f}, {self.f_n_possible})  zero={self.zero_shift:+.4f}°"
                + (f" {self.shift[1]:+.4f}°·cosθ" if self.shift[1] else "")
                + (f"  unindexed {self.n_unindexed}" if self.n_unindexed else ""))


@dataclasses.dataclass(frozen=True)
class IndexingResult:
    """Everything one indexing found.

    Attributes:
        source: the file (or the caller's name for the pattern).
        lines: the observed lines the search started from.
        solutions: the cells found, best first (empty: no solution).
        reason: why there is no solution, else None.
        n_search_lines: lines the search had to index.
        stats: per searched system, boxes tested, leaves, cells refined and whether its
            box budget ran out; seconds of CPU time of the whole run.
        settings: the options used.
        scan: (2θ, intensity) of the pattern the lines were found on, for figures; None for
            a result of bare lines or one read back from JSON (it is not written there).
    """

    source: str
    lines: ObservedLines
    solutions: tuple[CellSolution, ...]
    reason: str | None
    n_search_lines: int
    stats: dict[str, Any]
    settings: IndexingSettings
    scan: tuple[Any, Any] | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def best(self) -> CellSolution | None:
        return self.solutions[0] if self.solutions else None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "wavelength": self.lines.wavelength,
                "lines": self.lines.to_dict(),
                "solutions": [s.to_dict() for s in self.solutions], "reason": self.reason,
                "n_search_lines": self.n_search_lines, "stats": self.stats,
                "settings": self.settings.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexingResult:
        return cls(source=data["source"], lines=ObservedLines.from_dict(data["lines"]),
                   solutions=tuple(CellSolution.from_dict(s) for s in data["solutions"]),
                   reason=data["reason"], n_search_lines=int(data["n_search_lines"]),
                   stats=dict(data["stats"]),
                   settings=IndexingSettings.from_dict(data["settings"]))
