"""The frozen, validated settings of a phase-transition series (:class:`SeriesConfig`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xrdsim.errors import ConfigError, did_you_mean

#: External variables and their units.
VARIABLES = {"pressure": "GPa", "temperature": "K"}
#: Symmetry-breaking strains for the distortion kind of second phase (xrdsim.series.phases).
DISTORTIONS = ("tetragonal", "orthorhombic", "shear")
#: Fewest steps inside the coexistence interval that ``transition_width`` must allow.
MIN_STEPS_DURING = 2

_RANGES = (
    "bulk_modulus",
    "bulk_modulus_prime",
    "expansion",
    "transition_at",
    "transition_width",
    "distortion",
    "volume_change",
)


@dataclass(frozen=True)
class SeriesConfig:
    """How a series is drawn. Ranges are ``(lo, hi)`` of a uniform draw (lo = hi: fixed).

    Attributes:
        n_steps: patterns in the series, in order of the external variable.
        variable: ``"pressure"`` (GPa, Birch–Murnaghan) or ``"temperature"`` (K, linear).
        start, stop: the path of the variable, ``start < stop``, evenly stepped.
        bulk_modulus: K₀ (GPa) of each phase, drawn per phase.
        bulk_modulus_prime: K₀′ of each phase, drawn per phase.
        expansion: linear thermal expansion α (1/K) of each phase, drawn per phase.
        transition_at: centre of the coexistence interval, as a fraction of the path.
        transition_width: its width, as a fraction of the path; the weight fraction of
            the second phase ramps linearly from 0 to 1 across it.
        distortion: symmetry-breaking strain ε of a distorted second phase.
        volume_change: ΔV/V of the second phase against the first at the same
            variable (distortion kind only; a polymorph brings its own volume).
        zero_shift_drift: standard deviation (° 2θ) of the per-step random walk of the
            instrument's zero shift.
        width_drift: standard deviation of the per-step random walk of log(W) (Caglioti).
        counts_drift: standard deviation of log(counts) from step to step.
        simulation: the profile-simulator config (preset name or file) of the instrument.
    """

    n_steps: int = 120
    variable: str = "pressure"
    start: float = 0.0
    stop: float = 40.0
    bulk_modulus: tuple[float, float] = (100.0, 250.0)
    bulk_modulus_prime: tuple[float, float] = (3.5, 5.0)
    expansion: tuple[float, float] = (5e-6, 3e-5)
    transition_at: tuple[float, float] = (0.3, 0.7)
    transition_width: tuple[float, float] = (0.05, 0.25)
    distortion: tuple[float, float] = (0.01, 0.03)
    volume_change: tuple[float, float] = (-0.04, -0.01)
    zero_shift_drift: float = 0.001
    width_drift: float = 0.01
    counts_drift: float = 0.05
    simulation: str = "series"

    def __post_init__(self) -> None:
        for name in _RANGES:
            value = getattr(self, name)
            try:
                lo, hi = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ConfigError(f"series {name} must be a pair [lo, hi], got {value!r}") from None
            if not lo <= hi:
                raise ConfigError(f"series {name}: lo must be <= hi, got [{lo}, {hi}]")
            object.__setattr__(self, name, (lo, hi))
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, int):
            raise ConfigError(f"series n_steps must be an integer, got {self.n_steps!r}")
        if not 10 <= self.n_steps <= 100_000:
            raise ConfigError(f"series n_steps must lie in [10, 100000], got {self.n_steps}")
        if self.variable not in VARIABLES:
            raise ConfigError(
                f"series variable must be one of {sorted(VARIABLES)}, got {self.variable!r}"
                + did_you_mean(str(self.variable), VARIABLES)
            )
        if not self.start < self.stop:
            raise ConfigError(f"series path: start < stop needed, got {self.start}, {self.stop}")
        if self.variable == "pressure" and self.start < 0.0:
            raise ConfigError(f"series pressure start must be >= 0 GPa, got {self.start}")
        if self.variable == "temperature" and self.start <= 0.0:
            raise ConfigError(f"series temperature start must be > 0 K, got {self.start}")
        if self.bulk_modulus[0] <= 0.0 or self.bulk_modulus_prime[0] < 0.0:
            raise ConfigError("series bulk_modulus must be > 0 GPa and bulk_modulus_prime >= 0")
        c_lo, c_hi = self.transition_at
        w_lo, w_hi = self.transition_width
        if not (0.0 < c_lo and c_hi < 1.0):
            raise ConfigError(f"series transition_at must lie inside (0, 1), got {c_lo, c_hi}")
        if w_lo * (self.n_steps - 1) < MIN_STEPS_DURING:
            raise ConfigError(
                f"series transition_width lo = {w_lo} leaves fewer than {MIN_STEPS_DURING} "
                f"steps of coexistence in {self.n_steps} steps; raise it to "
                f">= {MIN_STEPS_DURING / (self.n_steps - 1):.3g} or add steps"
            )
        if c_lo - w_hi / 2 <= 0.0 or c_hi + w_hi / 2 >= 1.0:
            raise ConfigError(
                "series transition_at ± transition_width/2 must stay inside the path (0, 1), "
                f"got centre {c_lo, c_hi} and width up to {w_hi}"
            )
        if not (0.0 <= self.distortion[0] and self.distortion[1] < 0.2):
            raise ConfigError(f"series distortion must lie in [0, 0.2), got {self.distortion}")
        if not (-0.3 < self.volume_change[0] and self.volume_change[1] < 0.3):
            raise ConfigError(
                f"series volume_change must lie in (-0.3, 0.3), got {self.volume_change}"
            )
        for name in ("zero_shift_drift", "width_drift", "counts_drift"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ConfigError(f"series {name} must lie in [0, 1), got {getattr(self, name)}")

    @property
    def unit(self) -> str:
        """Unit of the external variable."""
        return VARIABLES[self.variable]

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (ranges as lists); :meth:`from_dict` inverts it exactly."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesConfig:
        """Build from a mapping; unknown keys are refused with the closest valid name."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(f"unknown series setting {key!r}" + did_you_mean(key, names))
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})
