"""Classify the patterns of a series with a trained run; find the transition; score runs.

:func:`predict_series` gives each pattern a class (before / during / after) and the
detected transition interval(s) of the external variable; :func:`plot_prediction` draws
the series as an image over the external variable with the predicted classes beside it;
:func:`evaluate_runs` fills sun2023's Table 1: per-series accuracy of spectral clustering
on the patterns, of a linear classifier on each run's representations with 2.7 % of the
series labelled, and of spectral clustering on each run's representations.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from xrdsim_training.series.config import SeriesTrainConfig
from xrdsim_training.series.data import preprocess
from xrdsim_training.series.linear import (
    CLASSES,
    fit_linear,
    linear_probabilities,
    matched_accuracy,
    select_labelled,
    spectral_clusters,
    transition_intervals,
)
from xrdsim_training.series.train import encode, load_run

from xrdsim.plotting import pyplot, save_figure
from xrdsim.series.store import read_series, series_names

#: Class colours of the figures (sun2023 Fig. 5: green before, red during, blue after).
COLOURS = ("tab:green", "tab:red", "tab:blue")


def predict_series(
    run_dir: str | Path, store: str | Path, name: str, *, label_fraction: float | None = None
) -> dict[str, Any]:
    """Per-pattern classes and probabilities, transition intervals, accuracy if labelled.

    With ``label_fraction`` the linear stage is refitted on that share of the series' own
    labelled patterns (:func:`select_labelled`, as :func:`evaluate_runs` does) instead of
    using the run's classifier from its training series; accuracy is then computed on
    the other patterns.

    Raises:
        TrainingError: ``label_fraction`` on a series without labels.
    """
    cfg, encoder, clf = load_run(run_dir)
    s = read_series(store, name)
    x = preprocess(s.patterns, crop=cfg.crop, pool=cfg.pool)
    t0 = time.perf_counter()
    features = encode(encoder, x)
    prob = linear_probabilities(features, clf)
    seconds = time.perf_counter() - t0
    scored = np.arange(len(x))
    if label_fraction is not None:
        labels = s.labels.astype(np.int64)
        labelled = select_labelled(labels, np.zeros_like(labels), fraction=label_fraction)
        clf = fit_linear(features[labelled], labels[labelled], seed=cfg.seed)
        prob = linear_probabilities(features, clf)
        scored = np.setdiff1d(scored, labelled)
    classes = clf["classes"][prob.argmax(axis=1)]
    out: dict[str, Any] = {
        "series": name,
        "run": str(run_dir),
        "method": cfg.method,
        "variable": s.attrs.get("variable", ""),
        "unit": s.attrs.get("unit", ""),
        "classes": [CLASSES[c] for c in classes],
        "class_index": classes.tolist(),
        "probabilities": np.round(prob, 4).tolist(),
        "values": s.variable.tolist(),
        "transitions": transition_intervals(classes, s.variable),
        "seconds_per_pattern": seconds / len(x),
        "labelled": sorted(set(range(len(x))) - set(scored.tolist())),
    }
    if (s.labels >= 0).all():
        out["accuracy"] = float((classes[scored] == s.labels[scored]).mean())
        out["true_transition"] = s.attrs.get("transition", {}).get("interval")
    return out


def plot_prediction(path: str | Path, store: str | Path, prediction: dict) -> None:
    """PNG: patterns (√ intensity) as rows over the external variable, classes beside."""
    from matplotlib.colors import ListedColormap

    s = read_series(store, prediction["series"])
    x = preprocess(s.patterns, crop=(0.0, 120.0), pool=8)
    v = np.asarray(prediction["values"])
    extent = (0.0, 120.0, v[-1], v[0])
    columns = [("predicted", np.asarray(prediction["class_index"]))]
    if (s.labels >= 0).all():
        columns.append(("true", s.labels.astype(int)))
    fig, axes = pyplot().subplots(
        1,
        1 + len(columns),
        figsize=(10, 6),
        sharey=True,
        gridspec_kw={"width_ratios": [12] + [1] * len(columns)},
    )
    axes[0].imshow(np.sqrt(x), aspect="auto", cmap="magma", extent=extent)
    axes[0].set_xlabel("2θ (°)")
    axes[0].set_ylabel(f"{prediction['variable']} ({prediction['unit']})")
    title = f"{prediction['series']}: {prediction['method']}"
    if "accuracy" in prediction:
        title += f", accuracy {prediction['accuracy']:.3f}"
    axes[0].set_title(title, fontsize=9)
    for lo, hi in prediction["transitions"]:
        axes[0].axhspan(lo, hi, color="w", alpha=0.15)
    cmap = ListedColormap(list(COLOURS))
    for ax, (label, col) in zip(axes[1:], columns, strict=True):
        ax.imshow(
            col[:, None],
            aspect="auto",
            cmap=cmap,
            vmin=0,
            vmax=2,
            extent=(0, 1, v[-1], v[0]),
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_title(label, fontsize=8)
    save_figure(fig, path, dpi=110)


def _few_label_accuracy(features, labels, labelled, rest, *, seed: int) -> float:
    """Fit the linear classifier on the labelled rows, score it on the rest."""
    clf = fit_linear(features[labelled], labels[labelled], seed=seed)
    prob = linear_probabilities(features[rest], clf)
    return float((clf["classes"][prob.argmax(axis=1)] == labels[rest]).mean())


def evaluate_runs(
    store: str | Path,
    run_dirs: list[str | Path],
    *,
    names: list[str] | None = None,
    label_fraction: float = 0.027,
    seed: int = 0,
) -> dict[str, Any]:
    """sun2023 Table 1 on the labelled series of a store (held out from the runs' training).

    Each series gets its own ``label_fraction`` of labels (:func:`select_labelled`: at
    least one pattern per class, 3 of 111 at 2.7 %); a linear classifier fitted on them
    is scored on the series' other patterns. Rows: "spectral clustering" and "linear
    (patterns)" on the preprocessed patterns; per run "<method>" (linear on its
    representations), "<method> + spectral clustering", and "<method> (training-series
    classifier)", the run's own stage-2 classifier, fitted on the training series.

    Returns:
        {"series": [names], "rows": {row: [accuracy per series]}, "average": {row: mean}}
    """
    names = list(names) if names else series_names(store)
    base = SeriesTrainConfig()
    runs = [load_run(r) for r in run_dirs]
    rows: dict[str, list[float]] = {"spectral clustering": [], "linear (patterns)": []}

    def add(row: str, value: float) -> None:
        rows.setdefault(row, []).append(float(value))

    for name in names:
        s = read_series(store, name)
        labels = s.labels.astype(np.int64)
        labelled = select_labelled(labels, np.zeros_like(labels), fraction=label_fraction)
        rest = np.setdiff1d(np.arange(labels.size), labelled)
        split = (labels, labelled, rest)

        raw = preprocess(s.patterns, crop=base.crop, pool=base.pool)
        add("spectral clustering", matched_accuracy(spectral_clusters(raw, seed=seed), labels))
        add("linear (patterns)", _few_label_accuracy(raw, *split, seed=seed))
        for cfg, encoder, clf in runs:
            features = encode(encoder, preprocess(s.patterns, crop=cfg.crop, pool=cfg.pool))
            add(cfg.method, _few_label_accuracy(features, *split, seed=seed))
            clusters = spectral_clusters(features, seed=seed)
            add(f"{cfg.method} + spectral clustering", matched_accuracy(clusters, labels))
            pred = clf["classes"][linear_probabilities(features, clf).argmax(axis=1)]
            add(f"{cfg.method} (training-series classifier)", (pred == labels).mean())
    return {
        "store": str(store),
        "series": names,
        "label_fraction": label_fraction,
        "rows": rows,
        "average": {k: float(np.mean(v)) for k, v in rows.items()},
    }


def table_markdown(table: dict[str, Any]) -> str:
    """The table as Markdown: one row per method, one column per series, then the mean."""
    head = "| method | " + " | ".join(table["series"]) + " | average |"
    lines = [head, "|" + "---|" * (len(table["series"]) + 2)]
    for method, accs in table["rows"].items():
        cells = " | ".join(f"{a:.3f}" for a in accs)
        lines.append(f"| {method} | {cells} | {table['average'][method]:.3f} |")
    return "\n".join(lines)
