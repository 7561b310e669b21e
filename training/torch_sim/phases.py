"""A whole peak database held on a device, gathered into ragged batches there (the twin
of :mod:`xrdsim.simulation.phases`).

:class:`DevicePeaks` loads every structure's peaks once (flat tensors + offsets, as in the
HDF5 file) with what the line stage needs per structure: unit cell, reciprocal metric,
holohedry mask and the Rietveld scale Z·M·V. :meth:`DevicePeaks.gather` then builds the
ragged peaks of any rows with ``mixture`` partner phases chosen and scaled exactly as
:func:`xrdsim.simulation.phases.simulate_database` does (partners from the pattern's
mixture stream, I_p ∝ w_p·|F|²·LP·m / (Z·M·V)_p), and :meth:`DevicePeaks.kernel_inputs`
turns them into the kernel arguments (:class:`~xrdsim.simulation.kernel_inputs.KernelArguments`
of tensors) — so on-the-fly GPU training never moves
peaks between host and device; only the (B,) keys and (B, P) parameters, drawn by the
engine's sampler, travel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from xrdsim_training.torch_sim import rng
from xrdsim_training.torch_sim.kernel_inputs import as_tensor, line_positions

from xrdsim.errors import DatabaseError
from xrdsim.simulation import phases
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.holohedry import candidate_operations, directions_array, orientation_inputs
from xrdsim.simulation.kernel_inputs import (
    KernelArguments,
    grid_trig,
    needs_crystal,
    normal_quantiles,
    shape_tables,
)
from xrdsim.simulation.layout import param
from xrdsim.simulation.rng import STREAM_MIXTURE
from xrdsim.simulation.sampling import draw_matrix, encode_config, pattern_keys

_P_PHASES = param("mixture.phases")
_P_FRACTION = param("mixture.fraction")


@dataclass(frozen=True)
class PeakRows:
    """Ragged peaks of B patterns on a device (what ``run_simulation`` receives).

    Attributes:
        two_theta: (n,) float64 degrees 2θ at the database wavelength.
        intensity: (n,) float64: the 0–100 scale, or with ``mixed`` the raw intensity
            times w_p / (Z·M·V)_p of the peak's phase.
        offsets: (B+1,) int64 ragged bounds of the patterns.
        hkl: (n, 3) int64 Miller indices.
        phase: (n,) int64 crystal of each peak: an index into ``rows``.
        rows: (C,) int64 database row of every crystal (without mixture: one per pattern).
        mixed: whether partner phases were mixed in.
    """

    two_theta: torch.Tensor
    intensity: torch.Tensor
    offsets: torch.Tensor
    hkl: torch.Tensor
    phase: torch.Tensor
    rows: torch.Tensor
    mixed: bool


class DevicePeaks:
    """Every structure of a :class:`xrdsim.PeakDatabase` as flat tensors on ``device``.

    Args:
        db: the open peak database.
        device: where the tensors live (``"cpu"``, ``"cuda"``, ...).

    Memory: 48 bytes per peak (2θ, two intensities, hkl) plus 136 bytes (offset, cell,
    G*, Z·M·V) and 64 mask bytes per structure.
    """

    def __init__(self, db: Any, *, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.path = db.path
        self.wavelength = float(db.attrs["wavelength"])
        n = len(db)
        every = np.arange(n, dtype=np.int64)
        batch = db.ragged(every, hkl=True)
        raw = db.ragged(every, raw=True).intensity
        cells = db.cells(every)
        gs, mask = orientation_inputs(cells, n)

        def put(arr: Any) -> torch.Tensor:
            return as_tensor(arr, self.device)

        self.two_theta = put(batch.two_theta.astype(np.float64))
        self.intensity = put(batch.intensity.astype(np.float64))
        self.intensity_raw = put(raw.astype(np.float64))
        self.hkl = put(batch.hkl.astype(np.int64))
        self.offsets = put(batch.offsets.astype(np.int64))
        self.cells = put(cells)
        self.gs = put(gs)
        self.mask = put(mask)
        self.zmv = put(phases.cell_zmv(db, every)) if n >= 2 else None
        self.ops = put(candidate_operations().reshape(-1, 9).astype(np.float64))
        self._static: dict[str, tuple[Any, dict[str, torch.Tensor]]] = {}

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @torch.inference_mode()
    def gather(self, rows: torch.Tensor, *, keys: torch.Tensor | None = None,
               n_extra: torch.Tensor | None = None,
               fraction: torch.Tensor | None = None) -> PeakRows:  # fmt: skip
        """Ragged peaks of the structures ``rows`` (B,) int64, on the device.

        Without ``n_extra``: each pattern's own peaks on the 0–100 scale. With ``keys``
        (B,) int64 pattern keys, ``n_extra`` (B,) extra phases (``mixture.phases``) and
        ``fraction`` (B,) float64 (``mixture.fraction``): the own structure then its
        ``n_extra`` partners (:func:`phases.mixture_partners`), raw intensities scaled by
        w / (Z·M·V) with w = 1 − n_extra·fraction for the own phase and ``fraction`` for
        each partner (:func:`phases.simulate_database`).
        """
        rows = rows.to(self.device, torch.int64)
        if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= len(self)):
            raise DatabaseError(f"structure rows must lie in [0, {len(self)}) of {self.path}, "
                                f"got min {int(rows.min())} and max {int(rows.max())}")
        if n_extra is None:
            tt, inten, hkl, per = self._take(rows, self.intensity)
            offsets = _bounds(per)
            phase = torch.repeat_interleave(torch.arange(rows.shape[0], device=self.device),
                                            per, output_size=tt.shape[0])  # fmt: skip
            return PeakRows(tt, inten, offsets, hkl, phase, rows, mixed=False)
        n_extra = n_extra.to(self.device, torch.int64)
        fraction = fraction.to(self.device, torch.float64)
        n_str = len(self)
        # partner m = ⌊u_m·S⌋ from the mixture stream, the own row replaced by the next
        u = rng.uniform(rng.stream_key(keys.to(self.device)[:, None], STREAM_MIXTURE),
                        torch.arange(phases.MAX_EXTRA, device=self.device)[None, :])  # fmt: skip
        partners = torch.clamp((u * n_str).to(torch.int64), max=n_str - 1)
        partners = torch.where(partners == rows[:, None], (partners + 1) % n_str, partners)
        table = torch.cat([rows[:, None], partners], dim=1)  # own, then candidates
        slot = torch.arange(1 + phases.MAX_EXTRA, device=self.device)[None, :]
        take = slot < (1 + n_extra)[:, None]
        weight = torch.where(slot == 0, 1.0 - n_extra[:, None] * fraction[:, None],
                             fraction[:, None].expand(-1, 1 + phases.MAX_EXTRA))  # fmt: skip
        crystals, weights = table[take], weight[take]  # row-major: pattern by pattern
        tt, raw, hkl, per_phase = self._take(crystals, self.intensity_raw)
        phase = torch.repeat_interleave(torch.arange(crystals.shape[0], device=self.device),
                                        per_phase, output_size=tt.shape[0])  # fmt: skip
        inten = raw * (weights / self.zmv[crystals])[phase]
        owner = torch.repeat_interleave(torch.arange(rows.shape[0], device=self.device),
                                        1 + n_extra)  # fmt: skip
        per = torch.zeros(rows.shape[0], dtype=torch.int64, device=self.device)
        per = per.index_add_(0, owner, per_phase)
        return PeakRows(tt, inten, _bounds(per), hkl, phase, crystals, mixed=True)

    def _take(self, rows: torch.Tensor, intensity: torch.Tensor):
        """2θ, the given intensity, hkl and per-row counts of ``rows``, concatenated."""
        starts = self.offsets[rows]
        per = self.offsets[rows + 1] - starts
        out_starts = torch.cumsum(per, 0) - per
        total = int(per.sum())
        pos = torch.arange(total, device=self.device) + torch.repeat_interleave(
            starts - out_starts, per, output_size=total)
        return self.two_theta[pos], intensity[pos], self.hkl[pos], per

    @torch.inference_mode()
    def kernel_inputs(self, rows: np.ndarray, config: SimulationConfig | str, *, seed: int,
                      structure_keys: np.ndarray,
                      views: np.ndarray) -> KernelArguments:  # fmt: skip
        """The inputs :func:`phases.simulate_database` renders ``rows`` from, on the device.

        Pattern keys and the (B, P) parameters come from the engine's sampler on the host
        (B numbers each); peaks, mixture partners, line positions and crystal arrays are
        gathered on the device. Like ``simulate_database`` this does not compare the
        database's wavelength with the config's: callers check it once
        (``xrdsim.wavelengths.check_peak_wavelength``, as ``OnTheFlyDataset`` does).

        Raises:
            DatabaseError: a row outside the database.
        """
        cfg = load_config(config)
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        sk = np.broadcast_to(np.asarray(structure_keys, dtype=np.int64), idx.shape)
        vw = np.broadcast_to(np.asarray(views, dtype=np.int64), idx.shape)
        keys = pattern_keys(seed, sk, vw)
        enc, static = self._constants(cfg)
        matrix = draw_matrix(cfg, enc, seed, keys)
        tkeys = torch.from_numpy(keys.view(np.int64)).to(self.device)
        trows = torch.from_numpy(idx).to(self.device)
        if cfg.enabled("mixture") and len(self) >= 2:
            peaks = self.gather(trows, keys=tkeys,
                                n_extra=torch.from_numpy(matrix[:, _P_PHASES].astype(np.int64)),
                                fraction=torch.from_numpy(matrix[:, _P_FRACTION]))  # fmt: skip
        else:
            if cfg.enabled("mixture"):  # a one-structure database has nothing to mix in
                matrix[:, _P_PHASES] = 0.0
            peaks = self.gather(trows)
        on = tuple(bool(v) for v in enc.on)
        if needs_crystal(cfg):
            crystal = {"hkl": peaks.hkl, "phase": peaks.phase, "gs": self.gs[peaks.rows],
                       "mask": self.mask[peaks.rows]}  # fmt: skip
        else:  # the engine's 1-element dummies
            crystal = {k: static[k] for k in ("hkl", "phase", "gs", "mask")}
        return KernelArguments(
            tt=line_positions(peaks.two_theta, enc), inten=peaks.intensity,
            offsets=peaks.offsets, params=as_tensor(matrix, self.device), keys=tkeys, on=on,
            **crystal, **{k: v for k, v in static.items() if k not in crystal},
        )  # fmt: skip

    def _constants(self, cfg: SimulationConfig) -> tuple[Any, dict[str, torch.Tensor]]:
        """The encoded config and its per-config tensors on the device (made once)."""
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        if key not in self._static:
            enc = encode_config(cfg)
            dirs = directions_array(cfg.op("preferred_orientation").settings["directions"])
            arrays = {
                "consts": enc.consts, "item_kind": enc.item_kind, "item_lo": enc.item_lo,
                "item_hi": enc.item_hi, "item_off": enc.item_off, "item_n": enc.item_n,
                "vals": enc.choice_vals, "tables": shape_tables(), "trig": grid_trig(),
                "normal_q": normal_quantiles(), "ops": self.ops,
                "dirs": dirs if needs_crystal(cfg) else np.ones((1, 3)),
                "hkl": np.zeros((1, 3), np.int64), "phase": np.zeros(1, np.int64),
                "gs": np.zeros((1, 9)), "mask": np.zeros((1, self.ops.shape[0]), np.bool_),
            }  # fmt: skip
            self._static[key] = (enc, {k: as_tensor(v, self.device) for k, v in arrays.items()})
        return self._static[key]


def _bounds(per: torch.Tensor) -> torch.Tensor:
    """(B+1,) int64 offsets from (B,) counts."""
    return torch.cat([per.new_zeros(1), torch.cumsum(per, 0)])
