"""Every input of the torch simulator as tensors on one device (:class:`KernelInputs`).

The fields are the arguments of ``xrdsim.simulation.ops_kernel.render_batch`` (same
names, shapes, dtypes and meaning), built by the engine's own NumPy preparation
(:func:`xrdsim.simulation.profile.kernel_arguments`: validation, pattern keys, parameter
draw, line positions, crystal arrays, shape tables), so torch and numba render from the
same numbers. :func:`line_positions` is the torch form of the engine's wavelength rows,
for peaks that already live on the device (:mod:`.peaks_on_device`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from xrdsim.simulation.ops_kernel import DOUBLET, TUBE
from xrdsim.simulation.profile import KernelArguments
from xrdsim.simulation.sampling import EncodedConfig
from xrdsim.wavelengths import TUNGSTEN_LALPHA1

#: Fields :func:`xrdsim_training.torch_sim.lines.make_lines` takes.
LINE_FIELDS = ("tt", "inten", "offsets", "params", "keys", "on", "consts", "hkl", "phase", "gs",
               "mask", "ops", "dirs")  # fmt: skip
#: Keyword fields the render stage (``render_lines(lines, **...)``) takes.
RENDER_FIELDS = ("offsets", "params", "keys", "on", "consts", "item_kind", "item_lo", "item_hi",
                 "item_off", "item_n", "vals", "tables", "trig", "normal_q")  # fmt: skip


@dataclass(frozen=True)
class KernelInputs:
    """The kernel inputs of B patterns on one device.

    Attributes:
        tt: (4, n) float64 degrees 2θ per wavelength row (Kα1 or single, Kα2, Kβ1, W Lα1;
            NaN where a line cannot diffract or its op is off).
        inten: (n,) float64 intensities; offsets: (B+1,) int64 ragged bounds.
        params: (B, P) float64 in ``ops_kernel.PARAM_SLOTS`` order (NaN for ops off).
        keys: (B,) int64 holding the uint64 pattern keys (:mod:`.rng`).
        on: tuple of Python bools in ``ops_kernel.OP_ORDER`` (preferred orientation off
            when no crystal was given, as in the engine).
        consts: (N_CONSTS,) float64 (``ops_kernel.C_*``).
        hkl: (n, 3) int64; phase: (n,) int64 crystal row of each peak in gs: (C, 9)
            float64 reciprocal metrics and mask: (C, M) bool holohedries among ops: (M, 9)
            float64; dirs: (D, 3) float64 (1-element dummies when orientation is off).
        item_kind, item_off, item_n: (I,) int64; item_lo, item_hi: (I,) float64; vals:
            float64 choice values and band edges (``sampling.encode_config``).
        tables: (8, TABLE_NODES) float64 shape tables; trig: (2, N_BINS) float64 tan θ and
            cos θ of the bin centres; normal_q: (NORMAL_NODES,) float64 normal quantiles.
    """

    tt: torch.Tensor
    inten: torch.Tensor
    offsets: torch.Tensor
    params: torch.Tensor
    keys: torch.Tensor
    on: tuple[bool, ...]
    consts: torch.Tensor
    hkl: torch.Tensor
    phase: torch.Tensor
    gs: torch.Tensor
    mask: torch.Tensor
    ops: torch.Tensor
    dirs: torch.Tensor
    item_kind: torch.Tensor
    item_lo: torch.Tensor
    item_hi: torch.Tensor
    item_off: torch.Tensor
    item_n: torch.Tensor
    vals: torch.Tensor
    tables: torch.Tensor
    trig: torch.Tensor
    normal_q: torch.Tensor

    @property
    def n_patterns(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def line_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`xrdsim_training.torch_sim.lines.make_lines`."""
        return {name: getattr(self, name) for name in LINE_FIELDS}

    def render_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the render stage, after the lines."""
        return {name: getattr(self, name) for name in RENDER_FIELDS}

    @classmethod
    def from_arguments(cls, args: KernelArguments, *, device: str | torch.device) -> KernelInputs:
        """Tensors on ``device`` from the engine's NumPy :class:`KernelArguments`."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            arr = getattr(args, f.name)
            if f.name == "on":
                values["on"] = tuple(bool(v) for v in arr)
            elif f.name == "keys":  # uint64 → int64 with the same bits
                values["keys"] = as_tensor(np.asarray(arr, np.uint64).view(np.int64), device)
            else:
                values[f.name] = as_tensor(arr, device)
        return cls(**values)


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
    if enc.on[DOUBLET]:
        for r, lam in enumerate(enc.kalpha):
            rows[r] = convert_two_theta(tt, ratio=lam / enc.wavelength)
    else:
        rows[0] = tt
    if enc.on[TUBE]:
        for r, lam in ((2, enc.kbeta), (3, TUNGSTEN_LALPHA1)):
            rows[r] = convert_two_theta(tt, ratio=lam / enc.wavelength)
    return rows
