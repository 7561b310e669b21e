"""Inputs of the numba render kernel for real MP-20 peak lists, and the numba lines.

:func:`kernel_case` prepares every ``render_batch`` argument exactly as
``xrdsim.simulation.simulator.run_simulation`` does (config encoding, parameter matrix,
line positions, orientation arrays, tables); :func:`numba_lines` runs the numba
``make_lines`` per pattern and packs the lines (B, L) like ``torch_sim.lines.Lines``;
:func:`numba_render` is the reference output and :func:`torch_render` calls
``render_lines`` on the same inputs.
"""

from __future__ import annotations

import csv
import functools
import gzip
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from xrdsim_training.torch_sim.kernel_inputs import to_device
from xrdsim_training.torch_sim.render import render_lines

from xrdsim.grid import N_BINS
from xrdsim.simulation.config import load_config
from xrdsim.simulation.kernel_inputs import (
    KernelArguments,
    grid_trig,
    line_positions,
    needs_crystal,
    normal_quantiles,
    orientation_arrays,
    shape_tables,
)
from xrdsim.simulation.layout import param
from xrdsim.simulation.lines_kernel import LINES_PER_PEAK, make_lines
from xrdsim.simulation.render_kernel import render_batch
from xrdsim.simulation.sampling import draw_matrix, encode_config, pattern_keys

#: MP-20 test structures drawn (rows sorted by id, then random.Random(SEED).sample).
N_STRUCTURES = 8
SEED = 20261128


@dataclass(frozen=True)
class PackedLines:
    """Stand-in of ``torch_sim.lines.Lines``: (B, L) x, y (0 at padding) and valid."""

    x: torch.Tensor
    y: torch.Tensor
    valid: torch.Tensor


@functools.lru_cache(maxsize=4)
def mp20_peaks(structures_csv: str, wavelength: float) -> tuple:
    """(two_theta, intensity, hkl, cell) of N_STRUCTURES MP-20 structures on 0–120°."""
    from pymatgen.core import Structure

    from xrdsim.peaks.lines import compute_peaks

    csv.field_size_limit(2**31 - 1)
    with gzip.open(Path(structures_csv), "rt", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["material_id"])
    out = []
    for row in random.Random(SEED).sample(rows, N_STRUCTURES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_str(row["cif"], fmt="cif")
        peaks = compute_peaks(structure, wavelength=wavelength, two_theta_range=(0.0, 120.0))
        lat = structure.lattice
        out.append((peaks.two_theta, peaks.intensity, np.asarray(peaks.hkl, np.int64),
                    np.array([*lat.abc, *lat.angles])))
    return tuple(out)


def kernel_case(config, peaks, *, seed=5, views=(0, 1)):
    """Every ``render_batch`` argument (:class:`KernelArguments`) for ``peaks`` × ``views``
    under ``config``."""
    cfg = load_config(config)
    lists = [p for p in peaks for _ in views]
    tt = np.concatenate([p[0] for p in lists]).astype(np.float64)
    inten = np.concatenate([p[1] for p in lists]).astype(np.float64)
    hkl = np.concatenate([p[2] for p in lists]).reshape(-1, 3)
    cells = np.stack([p[3] for p in lists])
    offs = np.concatenate([[0], np.cumsum([len(p[0]) for p in lists])]).astype(np.int64)
    sk = np.repeat(np.arange(len(peaks), dtype=np.int64) * 7919 + 3, len(views))
    vw = np.tile(np.asarray(views, dtype=np.int64), len(peaks))
    keys = pattern_keys(seed, sk, vw)
    enc = encode_config(cfg)
    matrix = np.array(draw_matrix(cfg, enc, seed, keys), dtype=np.float64, order="C")
    if cfg.enabled("mixture"):
        matrix[:, param("mixture.phases")] = 0.0
    on = enc.on.copy()
    hkl_, phase, gs, mask, ops, dirs = orientation_arrays(cfg, needs_crystal(cfg), hkl, cells,
                                                          None, offs)  # fmt: skip
    return KernelArguments(
                tt=line_positions(tt, cfg, enc), inten=inten, offsets=offs, params=matrix,
                keys=keys, on=on, consts=enc.consts, hkl=hkl_, phase=phase, gs=gs, mask=mask,
                ops=ops, dirs=dirs, item_kind=enc.item_kind, item_lo=enc.item_lo,
                item_hi=enc.item_hi, item_off=enc.item_off, item_n=enc.item_n,
                vals=enc.choice_vals, tables=shape_tables(), trig=grid_trig(),
                normal_q=normal_quantiles())


def numba_render(case) -> np.ndarray:
    out = np.empty((case.keys.size, N_BINS), dtype=np.float32)
    render_batch(case, out)
    return out


def numba_lines(case) -> PackedLines:
    """The numba ``make_lines`` of every pattern, packed (B, L) with zero padding."""
    offs = case.offsets
    per = []
    for b in range(offs.size - 1):
        lo, hi = int(offs[b]), int(offs[b + 1])
        lx = np.empty(LINES_PER_PEAK * (hi - lo))
        ly = np.empty_like(lx)
        n = make_lines(case, lo, hi, case.params[b], case.keys[b], lx, ly)
        per.append((lx[:n], ly[:n]))
    width = max([len(p[0]) for p in per] + [0])
    x = np.zeros((len(per), width))
    y = np.zeros((len(per), width))
    valid = np.zeros((len(per), width), dtype=bool)
    for b, (lx, ly) in enumerate(per):
        x[b, : lx.size], y[b, : lx.size], valid[b, : lx.size] = lx, ly, True
    return PackedLines(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(valid))


def torch_render(case, lines, **options) -> np.ndarray:
    """``render_lines`` on the case's inputs (tensors on the lines' device)."""
    return render_lines(lines, to_device(case, device=lines.x.device), **options).cpu().numpy()
