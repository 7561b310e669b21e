"""Drawing the per-pattern parameters of a config, keyed per pattern.

Each pattern's parameters are a pure function of ``(config, seed, structure_key,
view)``: the pattern key (:func:`pattern_keys`) seeds counter-based streams
(:mod:`xrdsim.simulation.rng`), never a batch position. The Caglioti group
``profile.U, V, W, P`` is Latin-hypercube sampled in a batch-independent way: a fixed,
scrambled LHS design of :data:`LHS_ROWS` rows is drawn once per seed with
``scipy.stats.qmc.LatinHypercube``; each pattern takes the row its key selects and a
uniform position inside that row's strata. Marginals are exactly uniform, and the
joint (U, V, W, P) draws follow the design's stratification.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from xrdsim.errors import ConfigError
from xrdsim.simulation import rng
from xrdsim.simulation.config import SimulationConfig
from xrdsim.simulation.layout import (
    INTEGER_SLOTS,
    ITEM_SLOTS,
    N_CONSTS,
    PARAM_SLOTS,
    const,
    param,
)
from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA

#: Rows of the fixed Latin-hypercube design of the Caglioti group (per seed).
LHS_ROWS = 4096
#: Parameters that form the Latin-hypercube group, in design-column order.
LHS_GROUP = ("profile.U", "profile.V", "profile.W", "profile.P")
#: Mixed into the seed of the LHS design so it is independent of other seeded draws.
_LHS_SALT = 0x4C48535F

_KIND_CODES = {
    "fixed": rng.KIND_FIXED,
    "uniform": rng.KIND_UNIFORM,
    "plusminus": rng.KIND_PLUSMINUS,
    "choice": rng.KIND_CHOICE,
    "randint": rng.KIND_RANDINT,
    "loguniform": rng.KIND_LOGUNIFORM,
    "bands": rng.KIND_BANDS,
    "logbands": rng.KIND_LOGBANDS,
}


@dataclass(frozen=True)
class EncodedConfig:
    """A config as the flat arrays the numba kernels take (see :func:`encode_config`).

    ``kind … choice_n`` describe the per-pattern slots (:data:`PARAM_SLOTS`), ``item_*``
    the per-item slots (:data:`ITEM_SLOTS`); both index ``choice_vals``.
    """

    kind: np.ndarray  # (P,) int64 distribution codes, KIND_OFF for disabled ops
    lo: np.ndarray  # (P,) float64 (log for loguniform)
    hi: np.ndarray  # (P,) float64
    choice_off: np.ndarray  # (P,) int64
    choice_n: np.ndarray  # (P,) int64
    choice_vals: np.ndarray  # (n_values,) float64 choices and band edges
    lhs_col: np.ndarray  # (P,) int64, −1 outside the LHS group
    item_kind: np.ndarray  # (I,) int64
    item_lo: np.ndarray  # (I,) float64
    item_hi: np.ndarray  # (I,) float64
    item_off: np.ndarray  # (I,) int64
    item_n: np.ndarray  # (I,) int64
    on: np.ndarray  # (n_ops,) bool
    consts: np.ndarray  # (N_CONSTS,) float64 in layout.CONSTS order
    wavelength: float
    kalpha: tuple[float, float]  # Kα1, Kα2 wavelengths (Å) when the doublet is on
    kbeta: float  # Kβ1 wavelength (Å) of the tube-line anode


def _encode_slots(config: SimulationConfig, names: tuple[str, ...], values: list[float]):
    n = len(names)
    kind = np.full(n, rng.KIND_OFF, dtype=np.int64)
    lo, hi = np.zeros(n), np.zeros(n)
    off, count = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for p, name in enumerate(names):
        op_name, par = name.split(".")
        op = config.op(op_name)
        if not op.enabled:
            continue
        dist = op.params[par]
        kind[p] = _KIND_CODES[dist.kind]
        vals = dist.values
        if dist.kind in ("loguniform", "logbands"):
            vals = tuple(float(np.log(v)) for v in vals)
        if dist.kind in ("choice", "bands", "logbands"):
            off[p], count[p] = len(values), len(vals)
            values.extend(vals)
        else:
            lo[p], hi[p] = vals[0], vals[-1]
    return kind, lo, hi, off, count


def encode_config(config: SimulationConfig) -> EncodedConfig:
    """Flatten a config into kernel arrays (cheap; done once per batch)."""
    values: list[float] = []
    kind, lo, hi, choice_off, choice_n = _encode_slots(config, PARAM_SLOTS, values)
    item_kind, item_lo, item_hi, item_off, item_n = _encode_slots(config, ITEM_SLOTS, values)
    lhs_col = np.full(len(PARAM_SLOTS), -1, dtype=np.int64)
    if config.op("profile").settings["latin_hypercube"]:
        for name in LHS_GROUP:
            lhs_col[param(name)] = LHS_GROUP.index(name)
    profile = config.op("profile").settings
    consts = np.zeros(N_CONSTS)
    consts[const("profile.tail_cutoff")] = float(profile["tail_cutoff"])
    consts[const("wavelength")] = float(config.wavelength)
    consts[const("binning.mean")] = float(config.op("binning").settings["mode"] == "mean")
    consts[const("profile.exact")] = float(profile["positions"] == "exact")
    consts[const("displacement.radius")] = float(config.op("displacement").settings["radius"])
    consts[const("transparency.radius")] = float(config.op("transparency").settings["radius"])
    low, high = config.op("impurity").settings["two_theta_range"]
    consts[const("impurity.low")], consts[const("impurity.high")] = low, high
    return EncodedConfig(
        kind=kind,
        lo=lo,
        hi=hi,
        choice_off=choice_off,
        choice_n=choice_n,
        choice_vals=np.asarray(values, dtype=np.float64),
        lhs_col=lhs_col,
        item_kind=item_kind,
        item_lo=item_lo,
        item_hi=item_hi,
        item_off=item_off,
        item_n=item_n,
        on=np.array([op.enabled for op in config.ops], dtype=np.bool_),
        consts=consts,
        wavelength=float(config.wavelength),
        kalpha=KALPHA_DOUBLETS[config.op("doublet").settings["anode"]],
        kbeta=KBETA[config.op("tube_lines").settings["anode"]],
    )


@functools.lru_cache(maxsize=16)
def lhs_design(seed: int) -> np.ndarray:
    """The (LHS_ROWS, 4) scrambled Latin-hypercube design in [0, 1)⁴ for ``seed``."""
    sampler = qmc.LatinHypercube(d=len(LHS_GROUP), rng=np.random.default_rng([seed, _LHS_SALT]))
    design = np.ascontiguousarray(sampler.random(LHS_ROWS), dtype=np.float64)
    design.setflags(write=False)
    return design


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ConfigError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def pattern_keys(seed: int, structure_keys: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(B,) uint64 pattern keys from a seed, (B,) structure keys and (B,) view indices."""
    sk = np.ascontiguousarray(structure_keys, dtype=np.int64)
    vw = np.ascontiguousarray(views, dtype=np.int64)
    if sk.ndim != 1 or sk.shape != vw.shape:
        raise ConfigError(
            f"structure_keys and views must be 1-D of equal length, got {sk.shape} and {vw.shape}"
        )
    if (sk < 0).any() or (vw < 0).any():
        raise ConfigError("structure keys and views must be non-negative integers")
    return rng.pattern_keys(np.uint64(check_seed(seed)), sk, vw)


def draw_matrix(
    config: SimulationConfig, enc: EncodedConfig, seed: int, keys: np.ndarray
) -> np.ndarray:
    """(B, P) float64 parameter matrix (NaN in the slots of disabled ops)."""
    return rng.draw_parameters(
        keys, enc.kind, enc.lo, enc.hi, enc.choice_off, enc.choice_n, enc.choice_vals,
        enc.lhs_col, lhs_design(check_seed(seed)),
    )  # fmt: skip


def params_to_dict(config: SimulationConfig, matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of the enabled ops as (B,) arrays: float32, int32 for integer parameters."""
    out: dict[str, np.ndarray] = {}
    for name in config.param_names():
        col = matrix[:, param(name)]
        out[name] = col.astype(np.int32) if name in INTEGER_SLOTS else col.astype(np.float32)
    return out


def sample_parameters(
    config: SimulationConfig, *, seed: int, structure_keys: np.ndarray, views: np.ndarray
) -> dict[str, np.ndarray]:
    """Draw every per-pattern parameter of ``config`` (float64, keyed per pattern).

    Returns:
        dict dotted name → (B,) float64, one entry per :meth:`SimulationConfig.param_names`.
    """
    enc = encode_config(config)
    matrix = draw_matrix(config, enc, seed, pattern_keys(seed, structure_keys, views))
    return {name: matrix[:, param(name)].copy() for name in config.param_names()}
