"""HAND: ExtraTrees on hand-crafted peak features (das2025 §4.2, after Suzuki et al. 2020).

Features of one pattern (at Cu Kα, λ = 1.5418 Å): the 2θ of the first ten peaks
(ascending, padded with 0 when there are fewer) and the number of peaks in 0–90°
(:func:`~xrdsim_training.hand.features.hand_features`, 11 values). One
``ExtraTreesClassifier`` per task — crystal system (CS), extinction group (EG), space group
(SG) — is trained on the lines of a peak database
(:class:`xrdsim.peaks.database.PeakDatabase`), and applied to measured patterns through a
scipy peak finder (:func:`~xrdsim_training.hand.features.find_pattern_peaks`; peaks in the
first ``HandSettings.scan_edge_deg`` of the scan are not used).

Lines of the database and peaks found in a pattern are made comparable by two
settings (:class:`HandSettings`): lines weaker than ``min_intensity`` % of the strongest
are dropped (a peak finder does not see them), and lines closer than ``merge_deg`` are
counted once (a measured profile does not resolve them).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
from xrdsim_training.hand.features import HandSettings, database_features, pattern_features
from xrdsim_training.hand.forest import ForestArrays, load_forests, save_forests
from xrdsim_training.measured.labels import (
    TASKS,
    accuracy_report,
    read_labels_csv,
    space_group_symbol,
)

from xrdsim.config_files import read_config_file
from xrdsim.errors import ConfigError, PatternReadError, TrainingError, XrdsimError, brief

MODEL_FILE = "hand_model.npz"
SETTINGS_FILE = "hand.json"
FORMAT = "xrdsim-hand/2"
#: Written by xrdsim-hand/1: a pickle, never loaded (it could run code when opened).
LEGACY_MODEL_FILE = "hand_model.joblib"
#: The structure ids HAND was fitted on, one a line: ``xrdsim evaluate`` checks a store's
#: held-out structures against it.
TRAIN_IDS_FILE = "hand_train_structures.txt"


def is_hand_run(run_dir: str | Path) -> bool:
    """True for a folder holding a HAND model (``hand.json``) and no neural run
    (``config.json`` of :func:`xrdsim_training.trainer.train`)."""
    run_dir = Path(run_dir)
    return (run_dir / SETTINGS_FILE).is_file() and not (run_dir / "config.json").is_file()


class HandModel:
    """Three ExtraTrees classifiers (CS, EG, SG) on
    :func:`~xrdsim_training.hand.features.hand_features`."""

    def __init__(self, settings: HandSettings | None = None, *, n_jobs: int = 1):
        self.settings = settings or HandSettings()
        self.n_jobs = int(n_jobs)
        self.classifiers: dict[str, ForestArrays] = {}

    def fit(self, features: np.ndarray, labels: dict[str, np.ndarray]) -> HandModel:
        """Train one classifier per task on (N, F) features and (N,) integer labels."""
        from sklearn.ensemble import ExtraTreesClassifier

        for task in TASKS:
            clf = ExtraTreesClassifier(n_estimators=self.settings.n_estimators,
                                       min_samples_leaf=self.settings.min_samples_leaf,
                                       random_state=self.settings.seed, n_jobs=self.n_jobs)
            clf.fit(features, np.asarray(labels[task], dtype=np.int64))
            self.classifiers[task] = ForestArrays.from_sklearn(clf)
        return self

    def predict_proba(self, features: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per task ``(classes (C,), probabilities (N, C))``; classes are label values."""
        if not self.classifiers:
            raise TrainingError("the HAND model is not trained; call fit() or HandModel.load()")
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        return {t: (c.classes, c.predict_proba(x)) for t, c in self.classifiers.items()}

    def predict(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Per task the most probable label, (N,) int64."""
        return {t: classes[np.argmax(p, axis=1)].astype(np.int64)
                for t, (classes, p) in self.predict_proba(features).items()}

    def features_of_patterns(self, patterns: np.ndarray) -> np.ndarray:
        """(N, 12000) grid patterns at the model's λ -> (N, F) features via the peak finder."""
        rows = [pattern_features(p, self.settings)[1] for p in np.atleast_2d(patterns)]
        return np.asarray(rows)

    def save(self, directory: str | Path) -> Path:
        """Write ``hand_model.npz`` (the trees as arrays) and ``hand.json`` (settings)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_forests(directory / MODEL_FILE, self.classifiers)
        (directory / SETTINGS_FILE).write_text(json.dumps(
            {"format": FORMAT, "settings": self.settings.to_dict(), "tasks": list(TASKS)},
            indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, n_jobs: int = 1) -> HandModel:
        """Read a model written by :meth:`save`; nothing in the folder is unpickled.

        Raises:
            TrainingError: missing files, another format, a pickled (version 1) model.
        """
        directory = Path(directory)
        meta_path, model_path = directory / SETTINGS_FILE, directory / MODEL_FILE
        if (directory / LEGACY_MODEL_FILE).exists() and not model_path.exists():
            raise TrainingError(f"{directory} holds a pickled HAND model ({LEGACY_MODEL_FILE}, "
                                "xrdsim-hand/1); pickles can run code when opened and are "
                                "never loaded: train the model again")
        if not (meta_path.is_file() and model_path.is_file()):
            raise TrainingError(f"{directory} holds no HAND model (need {SETTINGS_FILE} and "
                                f"{MODEL_FILE}); train one with train_hand / --method hand")
        try:  # the capped config reader: size, depth and count limits, regular files only
            meta = read_config_file(meta_path, what="HAND settings")
        except ConfigError as exc:
            raise TrainingError(str(exc)) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise TrainingError(f"{meta_path}: format {brief(found)}, expected {FORMAT}")
        try:
            settings = HandSettings.from_dict(meta.get("settings"))
        except ConfigError as exc:
            raise TrainingError(f"{meta_path}: {exc}; train the HAND model again") from None
        model = cls(settings, n_jobs=n_jobs)
        model.classifiers = load_forests(model_path, TASKS, classes=class_ranges())
        return model


def class_ranges() -> dict[str, tuple[int, int]]:
    """The inclusive label range of each task (a stored class outside it is refused: a
    negative crystal-system class once printed "cubic", the last name)."""
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
    from xrdsim.structures.extinction_table import extinction_table

    return {"crystal_system": (0, len(CRYSTAL_SYSTEMS) - 1),
            "extinction_group": (0, extinction_table().n_classes - 1), "space_group": (1, 230)}


def train_hand(peak_db_path: str | Path, out_dir: str | Path, *, seed: int = 0,
               test_fraction: float = 0.1, n_estimators: int = 100, n_jobs: int = 1,
               settings: HandSettings | None = None,
               structures: Collection[str] | None = None) -> dict[str, Any]:
    """Train HAND on a peak database and save it (the ``--method hand`` entry point).

    The structures are split at random (``seed``) into ``1 − test_fraction`` for training
    and ``test_fraction`` for testing, as das2025 §4.2; the test accuracies are returned
    and written to ``out_dir/hand_metrics.json``.

    Args:
        peak_db_path: HDF5 peak database (:func:`xrdsim.write_peak_database`).
        out_dir: folder for ``hand_model.npz``, ``hand.json``, ``hand_metrics.json``.
        seed: split and classifier seed. test_fraction: 0 trains on everything.
        n_estimators: trees per classifier. n_jobs: scikit-learn worker threads.
        settings: feature settings (``seed`` and ``n_estimators`` above override theirs).
        structures: split and fit only these structure ids of the database (e.g. a store's
            train structures, so that its held-out splits stay unseen); None = all.

    Returns:
        ``{"out_dir", "n_train", "n_test", "test": accuracy_report or None, "settings"}``.
    """
    from xrdsim.peaks.database import PeakDatabase

    if not 0 <= test_fraction < 1:
        raise ConfigError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    settings = dataclasses.replace(settings or HandSettings(), seed=int(seed),
                                   n_estimators=int(n_estimators))
    with PeakDatabase(peak_db_path) as db:
        ids = np.asarray(db.labels["structure_id"]).astype(str)
        keep = np.arange(ids.size) if structures is None else \
            np.flatnonzero(np.isin(ids, np.asarray(list(structures), dtype=str)))
        n = int(keep.size)
        if n < 2:
            raise TrainingError(f"{peak_db_path}: {n} of the structures asked for; HAND needs "
                                "at least 2")
        labels = {t: np.asarray(db.labels[t], dtype=np.int64)[keep] for t in TASKS}
        features = database_features(db, settings, keep)
    order = np.random.default_rng(settings.seed).permutation(n)
    n_test = int(round(test_fraction * n))
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    model = HandModel(settings, n_jobs=n_jobs).fit(features[train],
                                                   {t: v[train] for t, v in labels.items()})
    report = None
    if n_test:
        report = accuracy_report({t: v[test] for t, v in labels.items()},
                                 model.predict(features[test]))
    model.save(out_dir)
    (Path(out_dir) / TRAIN_IDS_FILE).write_text("".join(f"{i}\n" for i in ids[keep][train]))
    summary = {"out_dir": str(out_dir), "peak_db": str(peak_db_path), "n_train": int(train.size),
               "n_test": n_test, "test": report, "settings": settings.to_dict()}
    (Path(out_dir) / "hand_metrics.json").write_text(json.dumps(summary, indent=2))
    return summary


def train_hand_from_options(options: dict[str, Any], *, run_dir: str | Path,
                            data: str | Path | None, peaks: str | Path | None,
                            config_file: str | Path | None = None, resume: bool = False,
                            progress: bool = True) -> dict[str, Any]:
    """``xrdsim train --method hand``: HAND from the peak database given as ``--peaks``.

    With ``--data STORE`` only the store's train structures are used (its held-out splits
    stay unseen, as for the networks). Only ``--seed`` applies besides; the neural-network
    flags, ``--train-config`` and ``--resume`` are refused rather than silently ignored
    (``progress`` is unused: the fit has no epochs to report).
    """
    ignored = sorted(k for k, v in options.items()
                     if v is not None and k not in ("method", "seed"))
    if config_file is not None:
        ignored.append("train_config")
    if resume:
        ignored.append("resume")
    if ignored:
        flags = ", ".join("--" + k.replace("_", "-") for k in ignored)
        raise ConfigError(f"--method hand does not take {flags}: it trains ExtraTrees from "
                          "--peaks peaks.h5 (its seed: --seed)")
    if peaks is None:
        raise ConfigError("--method hand trains from a peak database: pass --peaks peaks.h5 "
                          "(from `xrdsim peaks`, or the <store>.peaks.h5 beside a dataset)")
    seed = options.get("seed")
    structures = None
    if data is not None:
        from xrdsim_training.data.store import store_train_structures

        structures = store_train_structures(data)
    return train_hand(peaks, run_dir, seed=0 if seed is None else int(seed),
                      structures=structures)

def _as_grid(item: Any, settings: HandSettings, *, wavelength: Any, background: str | None,
             force_wavelength: bool = False) -> tuple[str, np.ndarray, np.ndarray | None]:
    """(source, (12000,) grid pattern at the model's λ, (12000,) bool bins the scan covers
    or None for a bare array) of a path, pattern object or array."""
    from xrdsim.grid import N_BINS
    from xrdsim.measured.prepare import PreparedPattern, prepare_pattern
    from xrdsim.measured.readers import MeasuredPattern, read_pattern

    if isinstance(item, (str, Path)):
        item = read_pattern(item, wavelength=wavelength, force_wavelength=force_wavelength)
    if isinstance(item, MeasuredPattern):
        item = prepare_pattern(item, to_wavelength=settings.wavelength, background=background)
    if isinstance(item, PreparedPattern):
        if abs(item.wavelength - settings.wavelength) > 1e-4:
            raise PatternReadError(item.source, f"prepared at λ = {item.wavelength} Å but the "
                                   f"model works at {settings.wavelength} Å; prepare again "
                                   f"with to_wavelength={settings.wavelength}")
        return item.source, item.pattern, item.measured
    array = np.asarray(item, dtype=np.float64)
    if array.shape != (N_BINS,):
        raise PatternReadError("<array>", f"expected a ({N_BINS},) grid pattern, got shape "
                               f"{array.shape}")
    return "<array>", array, None


def _top_k(classes: np.ndarray, prob: np.ndarray, k: int) -> list[tuple[int, float]]:
    order = np.argsort(-prob, kind="stable")[:k]
    return [(int(classes[i]), float(prob[i])) for i in order]


def predict_hand(model_dir: str | Path, patterns: Any, *, wavelength: Any = None,
                 background: str | None = "snip", top_k: int = 3,
                 force_wavelength: bool = False) -> list[dict[str, Any]]:
    """Predict CS / EG / SG of measured patterns with a saved HAND model.

    Args:
        model_dir: folder written by :func:`train_hand`.
        patterns: an iterable of file paths, :class:`~xrdsim.measured.readers.MeasuredPattern`,
            :class:`~xrdsim.measured.prepare.PreparedPattern` (at the model's λ) or (12000,) grid
            arrays; a single (N, 12000) array also works.
        wavelength: λ for files that state none (Å or preset name).
        background: background method used when preparing files / MeasuredPatterns.
        top_k: candidates listed per task.
        force_wavelength: use ``wavelength`` even where a file states its own λ.

    Returns:
        one dict per input, in order: ``source``, ``n_peaks``, ``peaks`` (2θ found), and per
        task ``{"prediction": label, "top_k": [[label, probability], ...], "names": [...]}``
        (names: crystal system name, extinction-group symbol, ``"<number> <H-M symbol>"``
        of the space group; crystal system also ``name``); or ``source`` and ``error``
        when the input failed.

    Raises:
        ConfigError: ``top_k`` below 1, an unknown ``wavelength``.
    """
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
    from xrdsim.structures.extinction_table import extinction_table
    from xrdsim.wavelengths import resolve_wavelength

    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ConfigError(f"top_k must be an integer ≥ 1 (candidates listed per task), "
                          f"got {top_k!r}")
    if wavelength is not None:
        resolve_wavelength(wavelength)  # a bad name is the user's error, not each file's
    symbols = extinction_table().symbols
    names = {"crystal_system": lambda c: CRYSTAL_SYSTEMS[c],
             "extinction_group": lambda c: symbols[c],
             "space_group": lambda c: f"{c} {space_group_symbol(c)}"}
    model = HandModel.load(model_dir)
    s = model.settings
    if isinstance(patterns, np.ndarray) and patterns.ndim == 2:
        patterns = list(patterns)
    out: list[dict[str, Any]] = []
    for item in patterns:
        try:
            source, grid, measured = _as_grid(item, s, wavelength=wavelength,
                                              background=background,
                                              force_wavelength=force_wavelength)
        except PatternReadError as exc:
            out.append({"source": exc.source, "error": exc.reason})
            continue
        except XrdsimError as exc:
            out.append({"source": str(item) if isinstance(item, (str, Path)) else "<pattern>",
                        "error": str(exc)})
            continue
        peaks, feats = pattern_features(grid, s, measured=measured)
        row: dict[str, Any] = {"source": source, "n_peaks": int(peaks.size),
                               "peaks": np.round(peaks, 4).tolist()}
        for task, (classes, prob) in model.predict_proba(feats[None]).items():
            ranked = _top_k(classes, prob[0], top_k)
            row[task] = {"prediction": ranked[0][0], "top_k": [list(r) for r in ranked],
                         "names": [names[task](c) for c, _ in ranked]}
        row["crystal_system"]["name"] = CRYSTAL_SYSTEMS[row["crystal_system"]["prediction"]]
        out.append(row)
    return out


def evaluate_hand(model_dir: str | Path, patterns_dir: str | Path, labels_csv: str | Path, *,
                  wavelength: Any = None, background: str | None = "snip") -> dict[str, Any]:
    """Accuracy of a HAND model on a folder of measured patterns with known space groups.

    Args:
        labels_csv: CSV with columns ``file`` (path relative to ``patterns_dir``) and
            ``space_group`` (1–230); CS and EG labels follow from the space group.

    Returns:
        :func:`accuracy_report` of the files that could be read, plus ``files`` (one row
        per file: true and predicted labels) and ``errors`` ([file, reason]).
    """
    from xrdsim.structures.crystal_systems import crystal_system_index
    from xrdsim.structures.extinction_table import extinction_table

    rows = read_labels_csv(labels_csv)
    table = extinction_table()
    results = predict_hand(model_dir, [Path(patterns_dir) / f for f, _ in rows],
                           wavelength=wavelength, background=background, top_k=1)
    true: dict[str, list[int]] = {t: [] for t in TASKS}
    pred: dict[str, list[int]] = {t: [] for t in TASKS}
    files, errors = [], []
    for (name, sg), result in zip(rows, results, strict=True):
        if "error" in result:
            errors.append([name, result["error"]])
            continue
        labels = {"crystal_system": crystal_system_index(sg),
                  "extinction_group": table.of_space_group(sg), "space_group": sg}
        for t in TASKS:
            true[t].append(labels[t])
            pred[t].append(result[t]["prediction"])
        files.append({"file": name, "true": labels,
                      "predicted": {t: result[t]["prediction"] for t in TASKS}})
    report = accuracy_report({t: np.asarray(v, dtype=np.int64) for t, v in true.items()},
                             {t: np.asarray(v, dtype=np.int64) for t, v in pred.items()})
    return {**report, "files": files, "errors": errors}
