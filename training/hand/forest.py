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
    def from_arrays(cls, arrays: Any, prefix: str, *, source: str) -> ForestArrays:
        """Read back :meth:`to_arrays` and check that the trees are well formed."""
        try:
            raw = {k: np.asarray(arrays[f"{prefix}.{k}"]) for k in _FIELDS}
        except KeyError as exc:
            raise TrainingError(f"{source}: no {exc.args[0]!r} array; not an xrdsim HAND "
                                "model, train it again") from None
        forest = cls(classes=raw["classes"].astype(np.int64), **_typed(raw))
        forest._check(source)
        return forest

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


def load_forests(path: Path, tasks: tuple[str, ...]) -> dict[str, ForestArrays]:
    """Read :func:`save_forests`' file without unpickling anything.

    Raises:
        TrainingError: too big, not an ``.npz`` of plain arrays, or malformed trees.
    """
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise TrainingError(f"{path}: {size} bytes, more than a HAND model can be "
                            f"({MAX_MODEL_BYTES}); refused")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {t: ForestArrays.from_arrays(npz, t, source=str(path)) for t in tasks}
    except (ValueError, OSError, EOFError) as exc:
        # allow_pickle=False raises ValueError for object arrays: nothing was executed
        raise TrainingError(f"{path}: not a HAND model of plain arrays ({type(exc).__name__}); "
                            "train it again — pickled models are never loaded") from None
