"""ExtraTrees as plain arrays: a HAND model file that cannot run code when it is opened.

A pickled scikit-learn forest (``joblib.dump``) executes whatever its file says when it is
loaded, so a model folder received from someone else could run their code. HAND models are
therefore stored as the trees' node arrays in one ``.npz`` read with
``numpy.load(allow_pickle=False)`` — numbers only — and predicted by :class:`ForestArrays`,
which walks the trees exactly as scikit-learn does:

- features are compared as float32 (scikit-learn's ``DTYPE``) against float64 thresholds:
  ``x[feature] <= threshold`` goes left;
- a leaf's class fractions are normalised to sum 1, and the forest's probability is the
  mean of its trees' (``ForestClassifier.predict_proba``);
- a NaN feature follows the node's ``missing_go_to_left`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import TrainingError

#: Keys of one forest in the ``.npz`` (prefixed ``<task>.``).
_FIELDS = ("classes", "roots", "left", "right", "feature", "threshold", "nan_left", "value")
#: A HAND file is a few MB; a bigger one is refused before it is read into memory.
MAX_MODEL_BYTES = 2 << 30
#: Most bytes the arrays of a HAND file may take once read, from their ``.npy`` headers
#: before any is decompressed: the largest measured model (300 trees, leaf 2, MP-20) takes
#: 3.2 GB (docs/measured.md); a crafted 3.3 MB file once asked for 2 GiB unchecked.
MAX_MODEL_MEMORY = 4 << 30
#: Deepest tree walked: each level is one step of :meth:`ForestArrays.predict_proba` per
#: pattern, so a chain-shaped tree of 10⁵ levels once cost 30 s a pattern. Trees grown on
#: peak databases stay far shallower.
MAX_TREE_DEPTH = 500
#: Largest class label of any task (space groups 1–230; crystal systems and extinction
#: groups are smaller indices).
MAX_CLASS = 230


@dataclass(frozen=True)
class ForestArrays:
    """All trees of one forest, concatenated.

    Attributes:
        classes: (C,) int64 class labels. roots: (T,) int64 index of each tree's root.
        left, right: (M,) int64 child indices (global; −1 at leaves).
        feature: (M,) int64 split feature. threshold: (M,) float64.
        nan_left: (M,) bool, where a NaN feature goes. value: (M, C) float64 leaf fractions.
    """

    classes: np.ndarray
    roots: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    value: np.ndarray

    @classmethod
    def from_sklearn(cls, forest: Any) -> ForestArrays:
        """Arrays of a fitted single-output ``ExtraTreesClassifier``."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _FIELDS[1:]}
        offset = 0
        for est in forest.estimators_:
            t = est.tree_
            leaf = t.children_left == -1
            parts["roots"].append(np.array([offset]))
            parts["left"].append(np.where(leaf, -1, t.children_left + offset))
            parts["right"].append(np.where(leaf, -1, t.children_right + offset))
            parts["feature"].append(t.feature)
            parts["threshold"].append(t.threshold)
            parts["nan_left"].append(np.asarray(t.missing_go_to_left, dtype=bool))
            parts["value"].append(t.value[:, 0, :])
            offset += t.node_count
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(classes=np.asarray(forest.classes_, dtype=np.int64), **_typed(arrays))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.{k}": getattr(self, k) for k in _FIELDS}

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str, *, source: str,
                    classes: tuple[int, int] = (0, MAX_CLASS)) -> ForestArrays:
        """Read back :meth:`to_arrays` and check that the trees are well formed, their
        class labels within ``classes`` (inclusive) and no tree deeper than
        :data:`MAX_TREE_DEPTH`."""
        try:
            raw = {k: np.asarray(arrays[f"{prefix}.{k}"]) for k in _FIELDS}
        except KeyError as exc:
            raise TrainingError(f"{source}: no {exc.args[0]!r} array; not an xrdsim HAND "
                                "model, train it again") from None
        if any(a.dtype.kind not in "biuf" for a in raw.values()):
            raise TrainingError(f"{source}: arrays of {prefix} are not numeric; train the HAND "
                                "model again")
        forest = cls(classes=raw["classes"].astype(np.int64), **_typed(raw))
        forest._check(source)
        lo, hi = classes
        if not (np.all(np.diff(forest.classes) > 0) and forest.classes[0] >= lo
                and forest.classes[-1] <= hi):
            raise TrainingError(f"{source}: {prefix} class labels must increase within "
                                f"[{lo}, {hi}]; train the HAND model again")
        forest._check_depth(source)
        return forest

    def _check_depth(self, source: str) -> None:
        """Refuse a tree deeper than MAX_TREE_DEPTH (walked level by level, at most that
        many vectorised steps)."""
        frontier = self.roots
        for _ in range(MAX_TREE_DEPTH + 1):
            inner = frontier[self.left[frontier] >= 0]
            if inner.size == 0:
                return
            frontier = np.concatenate([self.left[inner], self.right[inner]])
        raise TrainingError(f"{source}: a tree deeper than {MAX_TREE_DEPTH} levels (each level "
                            "costs a step per pattern); train the HAND model again")

    def _check(self, source: str) -> None:
        m, c = self.left.size, self.classes.size
        ok = (
            self.classes.ndim == 1 and c > 0 and self.roots.ndim == 1 and self.roots.size > 0
            and all(a.shape == (m,) for a in (self.right, self.feature, self.threshold,
                                             self.nan_left))
            and self.value.shape == (m, c)
            and np.all((self.roots >= 0) & (self.roots < m))
            and np.all((self.left >= -1) & (self.left < m))
            and np.all((self.right >= -1) & (self.right < m))
            and np.array_equal(self.left == -1, self.right == -1)
            and np.all(self.value >= 0)
        )
        inner = self.left >= 0
        # children lie after their parent: the walk ends within M steps, never loops
        idx = np.arange(m)
        ok = bool(ok and np.all(self.left[inner] > idx[inner])
                  and np.all(self.right[inner] > idx[inner]))
        if not ok:
            raise TrainingError(f"{source}: the stored trees are malformed; train the HAND "
                                "model again")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, F) features -> (N, C) class probabilities, as scikit-learn computes them."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32)).astype(np.float64)
        if self.feature.size and int(self.feature[self.left >= 0].max(initial=0)) >= x.shape[1]:
            raise TrainingError(f"the HAND model needs more than {x.shape[1]} features")
        n = x.shape[0]
        rows = np.repeat(np.arange(n)[None, :], self.roots.size, axis=0)
        node = np.repeat(self.roots[:, None], n, axis=1)
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            f = np.where(inner, self.feature[node], 0)
            v = x[rows, f]
            go_left = np.where(np.isnan(v), self.nan_left[node], v <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        leaf = self.value[node]  # (T, N, C)
        norm = leaf.sum(axis=2, keepdims=True)
        norm[norm == 0.0] = 1.0
        return (leaf / norm).sum(axis=0) / self.roots.size


def _typed(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "roots": a["roots"].astype(np.int64), "left": a["left"].astype(np.int64),
        "right": a["right"].astype(np.int64), "feature": a["feature"].astype(np.int64),
        "threshold": a["threshold"].astype(np.float64), "nan_left": a["nan_left"].astype(bool),
        "value": a["value"].astype(np.float64),
    }


def save_forests(path: Path, forests: dict[str, ForestArrays]) -> None:
    """Write the forests of every task to one compressed ``.npz``."""
    arrays: dict[str, np.ndarray] = {}
    for task, forest in forests.items():
        arrays.update(forest.to_arrays(task))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_forests(path: Path, tasks: tuple[str, ...], *,
                 classes: dict[str, tuple[int, int]] | None = None) -> dict[str, ForestArrays]:
    """Read :func:`save_forests`' file without unpickling anything.

    The arrays' ``.npy`` headers are read first: numeric dtypes only, and at most
    :data:`MAX_MODEL_MEMORY` bytes in all, before any array is decompressed.

    Args:
        classes: per task, the inclusive range its class labels must lie in.

    Raises:
        TrainingError: too big, not an ``.npz`` of plain arrays (truncated, damaged, object
            arrays), or malformed trees.
    """
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise TrainingError(f"{path}: {size} bytes, more than a HAND model can be "
                            f"({MAX_MODEL_BYTES}); refused")
    try:
        with np.load(path, allow_pickle=False) as npz:
            _check_declared_sizes(npz, path)
            return {t: ForestArrays.from_arrays(npz, t, source=str(path),
                                                classes=(classes or {}).get(t, (0, MAX_CLASS)))
                    for t in tasks}
    except TrainingError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, zlib, npy header errors: one line each
        # allow_pickle=False raises ValueError for object arrays: nothing was executed
        raise TrainingError(f"{path}: not a HAND model of plain arrays ({type(exc).__name__}); "
                            "train it again — pickled models are never loaded") from None


def _check_declared_sizes(npz: Any, path: Path) -> None:
    """Refuse, from the ``.npy`` headers alone, arrays that are not numeric or that would
    take more than :data:`MAX_MODEL_MEMORY` bytes once decompressed."""
    from numpy.lib import format as npy

    total = 0
    for name in npz.zip.namelist():
        with npz.zip.open(name) as member:
            version = npy.read_magic(member)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = reader(member)
        if dtype.kind not in "biuf":
            raise TrainingError(f"{path}: array {name} is not numeric ({dtype}); train the HAND "
                                "model again — pickled models are never loaded")
        total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if total > MAX_MODEL_MEMORY:
        raise TrainingError(f"{path}: its arrays would take {total / 2**30:.3g} GiB once read "
                            f"(> {MAX_MODEL_MEMORY / 2**30:g} GiB, more than any HAND model "
                            "needs); refused before reading them")
