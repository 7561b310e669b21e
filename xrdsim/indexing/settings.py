"""Options of an indexing run, frozen and validated at construction."""

from __future__ import annotations

import dataclasses
from typing import Any

from xrdsim.errors import ConfigError, did_you_mean
from xrdsim.indexing.cell import SEARCH_ORDER

#: Names ``systems`` accepts: the searched systems, and ``trigonal`` for the hexagonal
#: search (a rhombohedral lattice is found there, as hR).
SYSTEM_NAMES = SEARCH_ORDER + ("trigonal",)


@dataclasses.dataclass(frozen=True)
class IndexingSettings:
    """Options of :func:`xrdsim.indexing.index_pattern`.

    Attributes:
        systems: crystal systems to search, of :data:`SYSTEM_NAMES`; ``trigonal`` means the
            hexagonal search. They are searched from cubic down, each only while no higher
            system gave a conclusive cell.
        max_volume: largest cell volume searched, Å³.
        min_length, max_length: cell edges searched, Å.
        n_lines: lines the search must index (DICVOL's first 20).
        tolerance: 2θ error allowed per line, degrees (DICVOL's default 0.03°); a line
            whose fitted position is less sure (3σ) gets its own wider tolerance.
        max_zero_shift: |zero shift| searched and refined, degrees 2θ.
        max_displacement: |D| searched, degrees 2θ, of a specimen displacement's shift
            D·cos θ (D = −2s/R: 0.19° for s = 0.4 mm on a 240 mm goniometer), which moves
            high-angle lines against low-angle ones by more than the tolerance; 0 searches
            a constant zero shift only (DICVOL's model).
        shift_terms: 2θ shift terms refined with each cell: 1 the zero shift (DICVOL's
            choice); 2 also the specimen displacement; 3 also the transparency; 0 none
            (see :mod:`xrdsim.indexing.refine` for why more terms bias the cell).
        max_unindexed: lines of the first ``n_lines`` allowed to stay unindexed
            (impurities, a second phase); the search first tries 0, then more.
        min_lines: fewer observed lines than this: no search ("too few lines").
        min_merit: solutions with M20 below this are not reported.
        conclusive_merit: M20 from which a solution that indexes every line ends the
            search (lower systems are not tried).
        top: solutions kept.
        min_intensity: peaks below this % of the strongest are not lines.
        search_min_intensity: lines below this % are not used by the search (they are
            still indexed afterwards).
        noise_sigmas: a peak must stand this many noise σ above its surroundings.
        monochromatic: one line per reflection even at a Kα wavelength (Kα1-only optics).
        triclinic_anchor_lines: the triclinic search takes a*, b*, c* among this many
            first lines.
        max_coverage: cells whose calculated lines below the last search line, each widened
            to its tolerance window, would cover more than this fraction of Q are not searched
            (any pattern indexes there by chance; see
            :func:`xrdsim.indexing.search.max_calculated_lines`).
        tile_ratio: ratio of successive length-interval edges of the start boxes.
        stop_fraction: a box is a leaf when its parameters move the last line by less
            than this fraction of the tolerance.
        max_boxes: boxes tested per system at most (a deterministic time limit).
    """

    systems: tuple[str, ...] = SEARCH_ORDER
    max_volume: float = 1500.0
    min_length: float = 2.0
    max_length: float = 25.0
    n_lines: int = 20
    tolerance: float = 0.03
    max_zero_shift: float = 0.5
    max_displacement: float = 0.2
    shift_terms: int = 1
    max_unindexed: int = 2
    min_lines: int = 6
    min_merit: float = 5.0
    conclusive_merit: float = 10.0
    top: int = 5
    min_intensity: float = 0.5
    search_min_intensity: float = 2.0
    noise_sigmas: float = 5.0
    monochromatic: bool = False
    triclinic_anchor_lines: int = 7
    max_coverage: float = 0.3
    tile_ratio: float = 1.05
    stop_fraction: float = 1.0
    max_boxes: int = 2_000_000

    def __post_init__(self) -> None:
        systems = tuple(str(s).lower() for s in self.systems)
        for s in systems:
            if s not in SYSTEM_NAMES:
                raise ConfigError(f"systems: unknown crystal system {s!r}"
                                  f"{did_you_mean(s, SYSTEM_NAMES)}; use some of "
                                  f"{', '.join(SYSTEM_NAMES)}")
        if not systems:
            raise ConfigError("systems: give at least one crystal system")
        object.__setattr__(self, "systems", systems)
        positive = {"max_volume": self.max_volume, "min_length": self.min_length,
                    "tolerance": self.tolerance, "tile_ratio": self.tile_ratio - 1.0,
                    "stop_fraction": self.stop_fraction, "min_merit": self.min_merit,
                    "conclusive_merit": self.conclusive_merit, "max_coverage": self.max_coverage}
        for name, value in positive.items():
            if not float(value) > 0:
                raise ConfigError(f"{name} must be > {1 if name == 'tile_ratio' else 0}, got "
                                  f"{getattr(self, name)!r}")
        if not self.max_length > self.min_length:
            raise ConfigError(f"max_length ({self.max_length!r} Å) must exceed min_length "
                              f"({self.min_length!r} Å)")
        if not 0 <= self.max_zero_shift <= 2.0:
            raise ConfigError(f"max_zero_shift must lie in 0–2° 2θ, got {self.max_zero_shift!r}")
        if not 0 <= self.max_displacement <= 1.0:
            raise ConfigError("max_displacement must lie in 0–1° 2θ, got "
                              f"{self.max_displacement!r}")
        if int(self.shift_terms) not in (0, 1, 2, 3):
            raise ConfigError(f"shift_terms must be 0, 1, 2 or 3, got {self.shift_terms!r}")
        if not 3 <= int(self.n_lines) <= 60:
            raise ConfigError(f"n_lines must be 3–60, got {self.n_lines!r}")
        if not 0 <= int(self.max_unindexed) < int(self.n_lines) // 2:
            raise ConfigError(f"max_unindexed must be 0 to fewer than half of n_lines "
                              f"({self.n_lines}), got {self.max_unindexed!r}")
        if not 3 <= int(self.min_lines) <= int(self.n_lines):
            raise ConfigError(f"min_lines must be 3 to n_lines ({self.n_lines}), got "
                              f"{self.min_lines!r}")
        if not int(self.top) >= 1:
            raise ConfigError(f"top must be >= 1, got {self.top!r}")
        if not (0 <= self.min_intensity <= self.search_min_intensity < 100):
            raise ConfigError("need 0 <= min_intensity <= search_min_intensity < 100 (% of the "
                              f"strongest peak), got {self.min_intensity!r}, "
                              f"{self.search_min_intensity!r}")
        if not self.noise_sigmas >= 0:
            raise ConfigError(f"noise_sigmas must be >= 0, got {self.noise_sigmas!r}")
        if not 3 <= int(self.triclinic_anchor_lines) <= 12:
            raise ConfigError("triclinic_anchor_lines must be 3–12, got "
                              f"{self.triclinic_anchor_lines!r}")
        if not int(self.max_boxes) >= 1000:
            raise ConfigError(f"max_boxes must be >= 1000, got {self.max_boxes!r}")

    @property
    def searched(self) -> tuple[str, ...]:
        """The searched systems in search order (``trigonal`` → hexagonal)."""
        wanted = {"hexagonal" if s == "trigonal" else s for s in self.systems}
        return tuple(s for s in SEARCH_ORDER if s in wanted)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["systems"] = list(self.systems)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexingSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown indexing setting(s) {unknown}; known: {sorted(known)}")
        return cls(**{**data, "systems": tuple(data.get("systems", SEARCH_ORDER))})
