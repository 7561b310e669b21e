"""sun2023's augmentations of 1D patterns, after Um et al. 2017 (time-series augmentation).

Diffraction-angle warping (time warping along 2θ), magnitude warping, window slicing,
jitter and scaling. Random parameters are drawn in :meth:`SpectraAugment.make_params`
(NumPy, from a caller's generator) and applied deterministically by
:meth:`SpectraAugment.apply` (torch), the torchvision v2 split.

    angle warp:     knots c_k ~ N(1, σ_a²) → cubic spline c(t); t' = cumsum(c) rescaled to
                    [0, L−1]; y(i) = x(t'⁻¹(i))       (peaks move, their number does not)
    magnitude warp: y(i) = x(i)·m(i), m = cubic spline through knots ~ N(1, σ_m²)
    window slice:   y = x[s : s + wL] stretched back to L samples, w = ``window``
    jitter:         y = x + ε, ε ~ N(0, σ_j²) per sample
    scaling:        y = x·s, s ~ N(1, σ_s²) per pattern
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from xrdsim.errors import ConfigError

#: Augmentation names, in the order they are applied (positions first, then magnitudes).
AUGMENTATIONS = ("angle_warp", "window_slice", "magnitude_warp", "scaling", "jitter")


@dataclass(frozen=True)
class SpectraAugment:
    """The augmentations in ``ops`` (sun2023 default: magnitude and angle warping)."""

    ops: tuple[str, ...] = ("magnitude_warp", "angle_warp")
    angle_sigma: float = 0.2
    magnitude_sigma: float = 0.2
    knots: int = 4
    window: float = 0.9
    jitter_sigma: float = 0.03
    scaling_sigma: float = 0.1

    def __post_init__(self) -> None:
        unknown = [o for o in self.ops if o not in AUGMENTATIONS]
        if unknown:
            raise ConfigError(f"unknown augmentations {unknown}; choose from {AUGMENTATIONS}")
        if not 0.0 < self.window <= 1.0 or self.knots < 1:
            raise ConfigError(f"window must lie in (0, 1] and knots >= 1, got {self}")

    def _spline(self, rng: np.random.Generator, batch: int, length: int, sigma: float):
        x_knots = np.linspace(0, length - 1, self.knots + 2)
        y_knots = rng.normal(1.0, sigma, size=(self.knots + 2, batch))
        return CubicSpline(x_knots, y_knots, axis=0)(np.arange(length)).T  # (B, L)

    def make_params(self, rng: np.random.Generator, batch: int, length: int) -> dict:
        """Draw the parameters of a (batch, length) input: float32 arrays or None."""
        grid = np.arange(length, dtype=np.float64)
        positions = np.broadcast_to(grid, (batch, length)).copy()
        if "angle_warp" in self.ops:
            speed = np.clip(self._spline(rng, batch, length, self.angle_sigma), 0.05, None)
            warped = np.cumsum(speed, axis=1)
            warped = (warped - warped[:, :1]) * (length - 1) / (warped[:, -1:] - warped[:, :1])
            positions = np.stack([np.interp(grid, w, grid) for w in warped])  # t'⁻¹(i)
        if "window_slice" in self.ops:
            width = self.window * (length - 1)
            start = rng.uniform(0.0, (length - 1) - width, size=(batch, 1))
            positions = start + positions * (width / (length - 1))
        params = {
            "positions": positions.astype(np.float32),
            "magnitude": None,
            "scale": None,
            "noise": None,
        }
        if "magnitude_warp" in self.ops:
            params["magnitude"] = self._spline(rng, batch, length, self.magnitude_sigma)
        if "scaling" in self.ops:
            params["scale"] = rng.normal(1.0, self.scaling_sigma, size=(batch, 1))
        if "jitter" in self.ops:
            params["noise"] = rng.normal(0.0, self.jitter_sigma, size=(batch, length))
        return {
            k: (None if v is None else np.asarray(v, dtype=np.float32)) for k, v in params.items()
        }

    @staticmethod
    def apply(x: torch.Tensor, params: dict) -> torch.Tensor:
        """Apply drawn parameters to ``x`` (B, L): resample at positions, then magnitudes."""
        pos = torch.as_tensor(params["positions"], device=x.device)
        lo = pos.floor().clamp(0, x.shape[1] - 1)
        frac = pos - lo
        lo = lo.long()
        hi = (lo + 1).clamp(max=x.shape[1] - 1)
        y = x.gather(1, lo) * (1 - frac) + x.gather(1, hi) * frac  # linear interpolation
        for key in ("magnitude", "scale"):
            if params[key] is not None:
                y = y * torch.as_tensor(params[key], device=x.device)
        if params["noise"] is not None:
            y = y + torch.as_tensor(params["noise"], device=x.device)
        return y

    def __call__(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return self.apply(x, self.make_params(rng, x.shape[0], x.shape[1]))
