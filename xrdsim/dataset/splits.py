"""Structure-level train / held-out splits and the four dataset cells (SPEC §4).

Structures are split, never patterns: every pattern of a structure lands in the
same half. Structures are first grouped by ``(reduced formula, space group)`` —
polymorph-free near-duplicates such as the same compound relaxed twice — and
whole groups are assigned, so no group straddles train / held-out.

The assignment is a pure function of the seed and of each group's *content*
(formula, space group), not of input order or of the number of workers:
inside each crystal system (the stratum, so the held-out half keeps every
class), groups are ranked by ``sha256(f"{seed}|{formula}|{space_group}")`` and
taken in that order until the stratum's held-out quota
``round(test_fraction · n_stratum)`` is reached.

Structures marked *train only* — `xrdsim build` marks the crystals of `xrdsim synth`
(:func:`xrdsim.structures.synth.is_synthetic_id`) — are training material: they stay in
train, count towards no quota, and keep their whole ``(formula, space group)`` group in
train, so the held-out splits hold real structures only and none of them has a
synthetic twin in train.

The four cells (das2025 §4.2's train / invariance / equivariance tests plus the
fourth corner of the grid):

============================  ================  ==================  ==============
split                         structures        config              views
============================  ================  ==================  ==============
``train``                     train             train               ``views_train``
``invariance``                train             invariance          ``views_test``
``equivariance``              held-out          train               ``views_test``
``held_out_invariance``       held-out          invariance          ``views_test``
============================  ================  ==================  ==============

Extra splits (``build_dataset(extra_splits={"extrapolation": "extrapolation"})``,
``xrdsim build --extra-split NAME=CONFIG``) render the train structures with their own
config and ``views_test`` views, like ``invariance``: a stress test of one more instrument
distribution on the same structures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.structures.crystal_systems import crystal_system_index

#: Split names in store order.
SPLIT_NAMES: tuple[str, ...] = ("train", "invariance", "equivariance", "held_out_invariance")
#: Names an extra split may take (lower-case identifier, not one of the four cells).
EXTRA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Value of the per-structure split code for train structures.
TRAIN = 0
#: Value of the per-structure split code for held-out structures.
HELD_OUT = 1


@dataclass(frozen=True)
class SplitSpec:
    """One cell of the dataset grid.

    Attributes:
        name: one of :data:`SPLIT_NAMES`, or an extra split's name (:data:`EXTRA_NAME`).
        config: ``"train"`` or ``"invariance"`` — which simulation config renders it; an
            extra split is rendered by the config of its own name.
        structures: ``"train"`` or ``"held_out"`` — which structures it draws.
        views: patterns per structure (>= 1).
    """

    name: str
    config: str
    structures: str
    views: int

    def __post_init__(self) -> None:
        if self.name not in SPLIT_NAMES:
            check_extra_name(self.name)
            if self.config != self.name:
                raise ConfigError(f"extra split {self.name!r} is rendered by the config of its "
                                  f"own name, got {self.config!r}")
        elif self.config not in ("train", "invariance"):
            raise ConfigError(f"split config must be 'train' or 'invariance', got {self.config!r}")
        if self.structures not in ("train", "held_out"):
            raise ConfigError(
                f"split structures must be 'train' or 'held_out', got {self.structures!r}"
            )
        if int(self.views) < 1:
            raise ConfigError(
                f"views of split {self.name!r} must be >= 1, got {self.views}; "
                "leave a split out instead of asking for zero views"
            )

    def to_dict(self) -> dict:
        return {"config": self.config, "structures": self.structures, "views": int(self.views)}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> SplitSpec:
        return cls(name=name, config=data["config"], structures=data["structures"],
                   views=int(data["views"]))


def check_extra_name(name: str) -> None:
    """Refuse an extra split name that is not a short lower-case identifier or is taken."""
    if name in SPLIT_NAMES or not EXTRA_NAME.match(str(name)):
        raise ConfigError(
            f"extra split name {name!r}: use a lower-case identifier (letters, digits, _; "
            f"at most 40) other than {', '.join(SPLIT_NAMES)}, e.g. 'extrapolation'"
        )


def split_cells(*, views_train: int = 6, views_test: int = 2,
                extra: Sequence[str] = ()) -> tuple[SplitSpec, ...]:
    """The four cells of SPEC §4 with their view counts, in :data:`SPLIT_NAMES` order,
    then one cell per ``extra`` split name (train structures, ``views_test`` views)."""
    return (
        SplitSpec("train", "train", "train", views_train),
        SplitSpec("invariance", "invariance", "train", views_test),
        SplitSpec("equivariance", "train", "held_out", views_test),
        SplitSpec("held_out_invariance", "invariance", "held_out", views_test),
        *(SplitSpec(name, name, "train", views_test) for name in extra),
    )


def _rank_key(seed: int, formula: str, space_group: int) -> bytes:
    return hashlib.sha256(f"{seed}|{formula}|{space_group}".encode()).digest()


def assign_splits(
    formulas: Sequence[str],
    space_groups: Sequence[int] | np.ndarray,
    *,
    test_fraction: float,
    seed: int,
    train_only: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """Assign every structure to train (0) or held-out (1), by whole groups.

    Args:
        formulas: reduced formula of each structure, length S.
        space_groups: space-group number (1–230) of each structure, length S.
        test_fraction: target fraction of held-out structures, in [0, 1).
        seed: the build seed; another seed gives another (equally valid) split.
        train_only: per structure, True to keep it (and its group) in train; None: none.

    Returns:
        int8 array (S,), :data:`TRAIN` or :data:`HELD_OUT`. Within each crystal
        system the held-out count reaches ``round(test_fraction · n)``, n = the
        stratum's structures that are not train-only (the last group taken may
        overshoot it by its size − 1). Without train-only structures the result is
        what it was before the argument existed.

    Raises:
        ConfigError: for a fraction outside [0, 1) or mismatched lengths.
    """
    if not 0.0 <= float(test_fraction) < 1.0:
        raise ConfigError(
            f"test_fraction must lie in [0, 1), got {test_fraction}; 0.1 holds out 10%"
        )
    sgs = np.asarray(space_groups, dtype=np.int64)
    if len(formulas) != len(sgs):
        raise ConfigError(
            f"formulas ({len(formulas)}) and space_groups ({len(sgs)}) differ in length"
        )
    fixed = (np.zeros(len(sgs), dtype=bool) if train_only is None
             else np.asarray(train_only, dtype=bool))
    if fixed.shape != sgs.shape:
        raise ConfigError(
            f"train_only ({fixed.size}) and space_groups ({len(sgs)}) differ in length")
    out = np.full(len(sgs), TRAIN, dtype=np.int8)
    if len(sgs) == 0:
        return out
    systems = np.asarray(crystal_system_index(sgs))
    groups: dict[tuple[int, str, int], list[int]] = {}
    for i, (formula, sg) in enumerate(zip(formulas, sgs.tolist(), strict=True)):
        groups.setdefault((int(systems[i]), str(formula), int(sg)), []).append(i)
    pinned = {k for k, members in groups.items() if fixed[members].any()}
    for system in np.unique(systems).tolist():
        keys = [k for k in groups if k[0] == system and k not in pinned]
        keys.sort(key=lambda k: _rank_key(seed, k[1], k[2]))
        n = int(np.sum((systems == system) & ~fixed))
        quota = int(round(float(test_fraction) * n))
        taken = 0
        for key in keys:
            if taken >= quota:
                break
            members = groups[key]
            out[members] = HELD_OUT
            taken += len(members)
    return out


def assignment_sha256(structure_ids: Sequence[str], assignment: np.ndarray) -> str:
    """sha256 of the ``structure_id<TAB>code`` lines, sorted by id.

    Identical for two builds exactly when they put the same structures on the same
    side, whatever the input order.
    """
    lines = sorted(f"{sid}\t{int(c)}" for sid, c in zip(structure_ids, assignment, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def split_structures(assignment: np.ndarray, spec: SplitSpec, *, seed: int) -> np.ndarray:
    """Structure indices drawn by ``spec``, in a seeded order.

    The order is a permutation keyed on the seed and the split name (so a shard
    mixes classes even when the input was sorted by class); the same structures
    appear in ``train`` and ``invariance`` (and in ``equivariance`` and
    ``held_out_invariance``), each split in its own order.

    Returns:
        int64 array of indices into the structure table.
    """
    code = TRAIN if spec.structures == "train" else HELD_OUT
    members = np.flatnonzero(np.asarray(assignment) == code)
    rng = np.random.default_rng(split_seed(seed, spec.name + "/order"))
    return members[rng.permutation(len(members))]


def split_seed(seed: int, split: str) -> int:
    """A 63-bit seed for ``split`` derived from the build seed (stable, hash-based).

    The builder simulates split ``name`` with ``split_seed(seed, name)``, so two
    splits never share a random stream even where they share a structure and view.
    """
    digest = hashlib.sha256(f"xrdsim-split|{seed}|{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def split_rows(structures: np.ndarray, views: int) -> tuple[np.ndarray, np.ndarray]:
    """Row layout of a split: structure-major, the views of a structure adjacent.

    Row ``r`` holds view ``r % views`` of structure ``structures[r // views]``.

    Returns:
        ``(structure_index (N,) int32, view (N,) int16)`` with ``N = len(structures)·views``.
    """
    structure_index = np.repeat(np.asarray(structures, dtype=np.int32), views)
    view = np.tile(np.arange(views, dtype=np.int16), len(structures))
    return structure_index, view
