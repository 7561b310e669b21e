"""Score a trained run (neural or HAND) on labelled measured patterns, with intervals.

The real-data benchmark of the project (issue 27): a folder of measured files with a
labels CSV (``file,space_group``; crystal system and extinction group follow from the
space group) — above all ``shared/data/patterns/rruff_dev`` (456 RRUFF minerals) — goes
through the run's own prediction path (``xrdsim predict`` for a network,
``predict_hand`` for HAND), and :func:`measured_report` gives, per task (CS, EG,
SG):

- top-1 and top-3 accuracy and balanced accuracy (mean recall over the true classes
  present), each with a 95 % percentile-bootstrap interval over files (files resampled
  with replacement, :data:`BOOTSTRAP_ROUNDS` rounds, seed 0: the same numbers every run);
- accuracy per true crystal system, the CS confusion matrix, and the expected calibration
  error (ECE, 15 bins) of the probabilities the run reports (temperature-scaled when the
  run has ``calibration.json``);
- the majority-class rate of the labelled set (always answering its most frequent class),
  the floor every model must clear.

The top-1 space group is the one the run reports (for a network: the SG head of the
predicted crystal system, das2025 §4.3); top-3 ranks the joint probabilities
``p(cs)·p(sg|cs)``.

A file that cannot be read is listed under ``errors`` and left out of every number
(``n`` counts the scored files). The ECE is
:func:`xrdsim_training.evaluation.temperature.expected_calibration_error`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError
from xrdsim.plotting import pyplot, save_figure

#: Tasks and their number of classes (the EG count comes from the extinction table).
TASKS = ("crystal_system", "extinction_group", "space_group")
#: Bootstrap rounds of the 95 % intervals (±0.3 points of Monte-Carlo error at n = 456).
BOOTSTRAP_ROUNDS = 2000
#: k of the top-k accuracies.
TOP_K = (1, 3)


def _n_classes(task: str) -> int:
    from xrdsim.structures.extinction_table import extinction_table

    return {"crystal_system": 7, "extinction_group": extinction_table().n_classes,
            "space_group": 230}[task]


def _column(task: str, label: int) -> int:
    """Class label → probability column (space groups 1–230 sit in columns 0–229)."""
    return label - 1 if task == "space_group" else label


def records_to_arrays(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Dense arrays from predict records (neural ``predict_files`` or ``predict_hand``).

    Every record must carry ``true`` labels and, per task, ``prediction`` and ``top_k``
    over all classes (``{"label", "probability"}`` dicts or ``[label, probability]``
    pairs); classes missing from ``top_k`` have probability 0.

    Returns:
        ``{"files": [...], "true": {task: (N,)}, "top1": {task: (N,)},
        "prob": {task: (N, C) float64}}``.
    """
    out: dict[str, Any] = {"files": [r["file"] for r in records],
                           "true": {}, "top1": {}, "prob": {}}
    for task in TASKS:
        c = _n_classes(task)
        prob = np.zeros((len(records), c))
        for i, rec in enumerate(records):
            for entry in rec[task]["top_k"]:
                label, p = ((entry["label"], entry["probability"]) if isinstance(entry, dict)
                            else entry)
                prob[i, _column(task, int(label))] = float(p)
        out["prob"][task] = prob
        out["true"][task] = np.array([r["true"][task] for r in records], dtype=np.int64)
        out["top1"][task] = np.array([r[task]["prediction"] for r in records], dtype=np.int64)
    return out


def _accuracy_parts(true: np.ndarray, hits: np.ndarray) -> tuple[float, float]:
    """(accuracy, balanced accuracy = mean recall over the classes present) of ``hits``."""
    per_class = np.bincount(true, minlength=1)
    recall = np.bincount(true, weights=hits, minlength=1)[per_class > 0] / per_class[per_class > 0]
    return float(hits.mean()), float(recall.mean())


def _interval(values: np.ndarray) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def measured_report(arrays: dict[str, Any], *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
                    ) -> dict[str, Any]:
    """Accuracies with 95 % bootstrap intervals, per-CS accuracy, confusion, ECE, majority.

    Args:
        arrays: :func:`records_to_arrays` output.
        rounds: bootstrap resamples of the files.
        seed: bootstrap generator seed.
    """
    from xrdsim_training.evaluation.temperature import expected_calibration_error

    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    n = len(arrays["files"])
    if n == 0:
        raise ConfigError("no labelled file could be scored")
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, n, size=(rounds, n))
    report: dict[str, Any] = {"n": n, "bootstrap_rounds": rounds, "tasks": {}}
    for task in TASKS:
        true, prob = arrays["true"][task], arrays["prob"][task]
        cols = np.array([_column(task, int(t)) for t in true])
        hits = {"top1": arrays["top1"][task] == true}
        for k in TOP_K[1:]:
            top = np.argsort(-prob, axis=1, kind="stable")[:, :k]
            hits[f"top{k}"] = np.any(top == cols[:, None], axis=1)
        entry: dict[str, Any] = {}
        for name, h in hits.items():
            acc, bal = _accuracy_parts(true, h)
            samples = np.array([_accuracy_parts(true[idx], h[idx]) for idx in boot])
            entry[name] = {"accuracy": acc, "accuracy_95": _interval(samples[:, 0]),
                           "balanced": bal, "balanced_95": _interval(samples[:, 1])}
        values, counts = np.unique(true, return_counts=True)
        entry["majority"] = {"label": int(values[np.argmax(counts)]),
                             "accuracy": float(counts.max() / n)}
        entry["ece"] = expected_calibration_error(prob, cols)
        entry["mean_top1_probability"] = float(prob.max(axis=1).mean())
        report["tasks"][task] = entry
    cs_true, cs_pred = arrays["true"]["crystal_system"], arrays["top1"]["crystal_system"]
    confusion = np.zeros((7, 7), dtype=np.int64)
    np.add.at(confusion, (cs_true, cs_pred), 1)
    report["crystal_system_confusion"] = {"classes": list(CRYSTAL_SYSTEMS),
                                          "rows_true_columns_predicted": confusion.tolist()}
    report["per_crystal_system"] = {
        CRYSTAL_SYSTEMS[c]: {"n": int(np.sum(cs_true == c)),
                             **{t: float(np.mean(arrays["top1"][t][cs_true == c]
                                                 == arrays["true"][t][cs_true == c]))
                                for t in TASKS}}
        for c in range(7) if np.any(cs_true == c)}
    return report


def predict_measured(run_dir: str | Path | None, paths: list[str | Path], *,
                     labels: str | Path, wavelength: Any = None, device: str = "auto"
                     ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Predict every labelled file with the model's own path; (scored records, errors).

    A network — a run folder, a model file of ``xrdsim export-model`` or None (the bundled
    model) — goes through :func:`xrdsim_training.measured.predict.predict_files` (calibrated
    probabilities when the run has ``calibration.json`` or the file temperatures), a HAND
    run through
    :func:`xrdsim_training.hand.predict_hand`; both list every class (top-k = all).
    Only files named in ``labels`` are scored.
    """
    from xrdsim_training.hand.model import is_hand_run, predict_hand
    from xrdsim_training.measured.labels import read_labels
    from xrdsim_training.measured.predict import predict_files

    from xrdsim.measured.paths import pattern_files
    from xrdsim.structures.crystal_systems import crystal_system_index
    from xrdsim.structures.extinction_table import extinction_table

    truth = read_labels(labels)
    files = [f for f in pattern_files(list(paths), exclude=[labels]) if f.name in truth]
    if not files:
        raise ConfigError(f"none of the pattern files in {[str(p) for p in paths]} is named "
                          f"in {labels}; give the folder the labels CSV describes")
    errors: list[list[str]] = []
    if run_dir is not None and is_hand_run(run_dir):
        raw = predict_hand(run_dir, files, wavelength=wavelength, top_k=230)
        table = extinction_table()
        records = []
        for path, rec in zip(files, raw, strict=True):
            if "error" in rec:
                errors.append([path.name, rec["error"]])
                continue
            sg = truth[path.name]
            records.append({"file": path.name, **{t: rec[t] for t in TASKS},
                            "true": {"crystal_system": int(crystal_system_index(sg)),
                                     "extinction_group": table.of_space_group(sg),
                                     "space_group": sg}})
        return records, errors
    raw = predict_files(run_dir, files, wavelength=wavelength, labels=truth, top_k=230,
                        device=device)
    records = []
    for rec in raw:
        if "error" in rec:
            errors.append([rec["file"], rec["error"]])
        else:
            records.append(rec)
    return records, errors


def evaluate_measured(run_dir: str | Path | None, paths: list[str | Path], *,
                      labels: str | Path, wavelength: Any = None, device: str = "auto",
                      png: str | Path | None = None) -> dict[str, Any]:
    """:func:`predict_measured` then :func:`measured_report`, plus the confusion figure.

    Returns:
        the report, with ``run`` (the run folder or model file; for the bundled model its
        path), ``model_sha256`` (a model file's, else None), ``labels``, ``errors`` ([file,
        reason]) and ``figure`` (the PNG written, when ``png`` is given).
    """
    records, errors = predict_measured(run_dir, paths, labels=labels, wavelength=wavelength,
                                       device=device)
    if not records:
        raise ConfigError(f"none of the {len(errors)} labelled files could be predicted; the "
                          f"first: {errors[0][0]}: {errors[0][1]}")
    report = measured_report(records_to_arrays(records))
    from xrdsim_training.measured.model_file import BUNDLED_MODEL, file_sha256

    model = BUNDLED_MODEL if run_dir is None else Path(run_dir)
    report.update({"run": str(model), "labels": str(labels), "errors": errors,
                   "model_sha256": None if model.is_dir() else file_sha256(model)})
    if png is not None:
        report["figure"] = str(confusion_png(report, png))
    return report


def confusion_png(report: dict[str, Any], path: str | Path) -> Path:
    """Row-normalised CS confusion matrix with counts, titled with the CS accuracy."""
    conf = np.asarray(report["crystal_system_confusion"]["rows_true_columns_predicted"])
    names = report["crystal_system_confusion"]["classes"]
    rows = np.maximum(conf.sum(axis=1, keepdims=True), 1)
    fig, ax = pyplot().subplots(figsize=(6.2, 5.2))
    ax.imshow(conf / rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(7):
        for j in range(7):
            if conf[i, j]:
                ax.text(j, i, str(conf[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if conf[i, j] / rows[i, 0] > 0.5 else "black")
    ax.set_xticks(range(7), names, rotation=45, ha="right")
    ax.set_yticks(range(7), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    cs = report["tasks"]["crystal_system"]["top1"]
    lo, hi = cs["accuracy_95"]
    ax.set_title(f"CS {100 * cs['accuracy']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] "
                 f"on {report['n']} files")
    return save_figure(fig, path, dpi=110)
