"""Every input of the torch simulator as tensors on one device (as
:mod:`xrdsim.simulation.kernel_inputs`).

The inputs are the engine's own :class:`~xrdsim.simulation.kernel_inputs.KernelArguments`
(same fields, shapes and meaning), built by the engine's NumPy preparation
(:func:`~xrdsim.simulation.kernel_inputs.kernel_arguments`: validation, pattern keys,
parameter draw, line positions, crystal arrays, shape tables) and moved to a device by
:func:`to_device`, so torch and numba render from the same numbers. :func:`line_positions`
is the torch form of the engine's wavelength rows, for peaks that already live on the
device (:mod:`.phases`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from xrdsim.simulation.kernel_inputs import KernelArguments
from xrdsim.simulation.layout import op
from xrdsim.simulation.sampling import EncodedConfig
from xrdsim.wavelengths import TUNGSTEN_LALPHA1


def to_device(args: KernelArguments, *, device: str | torch.device) -> KernelArguments:
    """The engine's NumPy :class:`KernelArguments` as tensors on ``device`` (same dtypes;
    ``keys`` uint64 → int64 with the same bits, ``on`` a tuple of Python bools)."""
    values: dict[str, Any] = {}
    for name, arr in args._asdict().items():
        if name == "on":
            values["on"] = tuple(bool(v) for v in arr)
        elif name == "keys":
            values["keys"] = as_tensor(np.asarray(arr, np.uint64).view(np.int64), device)
        else:
            values[name] = as_tensor(arr, device)
    return KernelArguments(**values)


def as_tensor(arr: Any, device: str | torch.device) -> torch.Tensor:
    """A NumPy array (or tensor) on ``device``, same dtype (read-only arrays are copied)."""
    if isinstance(arr, torch.Tensor):
        return arr.to(device)
    arr = np.ascontiguousarray(arr)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy()).to(device)


def convert_two_theta(tt: torch.Tensor, *, ratio: float) -> torch.Tensor:
    """2θ = 2·asin(ratio·sin(2θ′/2)), ratio = λ/λ′; NaN where |ratio·sin θ′| > 1
    (torch form of :func:`xrdsim.grid.convert_two_theta`)."""
    s = ratio * torch.sin(tt * (math.pi / 180.0) / 2.0)
    out = 2.0 * (torch.asin(s) * (180.0 / math.pi))
    return torch.where(s.abs() <= 1.0, out, torch.nan)


def line_positions(tt: torch.Tensor, enc: EncodedConfig) -> torch.Tensor:
    """(4, n) float64 rows of :func:`xrdsim.simulation.kernel_inputs.line_positions` from
    peaks at ``enc.wavelength`` already on the device."""
    rows = torch.full((4, tt.shape[0]), torch.nan, dtype=torch.float64, device=tt.device)
    if enc.on[op("doublet")]:
        for r, lam in enumerate(enc.kalpha):
            rows[r] = convert_two_theta(tt, ratio=lam / enc.wavelength)
    else:
        rows[0] = tt
    if enc.on[op("tube_lines")]:
        for r, lam in ((2, enc.kbeta), (3, TUNGSTEN_LALPHA1)):
            rows[r] = convert_two_theta(tt, ratio=lam / enc.wavelength)
    return rows
