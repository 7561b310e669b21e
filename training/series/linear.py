"""Stage 2 of sun2023: a linear classifier on frozen representations, few labels.

sun2023 labels "representative scattering curves of each phase", 2.7 % of all curves.
:func:`select_labelled` makes that choice reproducible: the label budget is spread over
every (series, class) cell, round robin, and inside a cell the labelled patterns sit at
evenly spaced quantiles of the cell's acquisition range (its centre first).
The classifier is multinomial logistic regression (one linear layer, cross-entropy) on
standardised features (scikit-learn, L-BFGS).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from xrdsim.errors import TrainingError

#: The phase classes, by label.
CLASSES = ("before", "during", "after")


def select_labelled(labels: np.ndarray, series: np.ndarray, *, fraction: float) -> np.ndarray:
    """Sorted row indices to label: ``max(round(fraction·M), cells)`` of M rows."""
    cells = [
        np.flatnonzero((series == s) & (labels == c))
        for s in np.unique(series)
        for c in range(len(CLASSES))
    ]
    cells = [c for c in cells if c.size]
    if not cells:
        raise TrainingError("no labelled patterns (labels are all −1): cannot fit stage 2")
    budget = max(round(fraction * labels.size), len(cells))
    counts = [0] * len(cells)
    for i in range(budget):
        j = i % len(cells)
        if counts[j] < cells[j].size:
            counts[j] += 1
    chosen = []
    for rows, k in zip(cells, counts, strict=True):
        quantiles = (np.arange(k) + 0.5) / k  # k = 1: the centre of the cell
        chosen.append(rows[np.floor(quantiles * rows.size).astype(int)])
    return np.sort(np.concatenate(chosen))


def fit_linear(features: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> dict:
    """Logistic regression on standardised features → {mean, scale, weight, bias, classes}."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    clf = LogisticRegression(max_iter=5000, random_state=seed)
    clf.fit((features - mean) / scale, labels)
    weight, bias = clf.coef_, clf.intercept_
    if weight.shape[0] == 1:  # two classes: sklearn keeps one row
        weight, bias = np.vstack([-weight / 2, weight / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    return {
        "mean": mean,
        "scale": scale,
        "weight": weight,
        "bias": bias,
        "classes": clf.classes_.astype(np.int64),
    }


def linear_probabilities(features: np.ndarray, clf: dict) -> np.ndarray:
    """(M, n_classes) softmax probabilities; columns in ``clf["classes"]`` order."""
    logits = ((features - clf["mean"]) / clf["scale"]) @ np.asarray(clf["weight"]).T
    logits = logits + clf["bias"]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def matched_accuracy(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of cluster ids after the best one-to-one cluster → class matching."""
    k = int(max(clusters.max(), labels.max())) + 1
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-confusion)
    return float(confusion[rows, cols].sum() / labels.size)


def spectral_clusters(features: np.ndarray, *, n_clusters: int = 3, seed: int = 0):
    """Spectral clustering (k-NN affinity, 10 neighbours) of one series' rows."""
    from sklearn.cluster import SpectralClustering

    model = SpectralClustering(
        n_clusters=n_clusters,
        affinity="nearest_neighbors",
        n_neighbors=min(10, features.shape[0] - 1),
        random_state=seed,
    )
    return model.fit_predict(features)


def transition_intervals(classes: np.ndarray, variable: np.ndarray) -> list[list[float]]:
    """Intervals of the external variable where a transition is detected.

    Each maximal run of "during" (1) gives [first, last] value of the run; a direct step
    before (0) → after (2) with no "during" between gives [value before, value after].
    """
    out = []
    i, n = 0, len(classes)
    while i < n:
        if classes[i] == 1:
            j = i
            while j + 1 < n and classes[j + 1] == 1:
                j += 1
            out.append([float(variable[i]), float(variable[j])])
            i = j + 1
        else:
            if i + 1 < n and classes[i] == 0 and classes[i + 1] == 2:
                out.append([float(variable[i]), float(variable[i + 1])])
            i += 1
    return out
