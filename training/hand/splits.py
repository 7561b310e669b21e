"""Score a HAND run on the simulated splits of a store, as measured patterns are scored.

``xrdsim evaluate HAND_RUN --data store.zarr`` lands here (:func:`evaluate_hand_splits`,
called by :func:`xrdsim_training.evaluation.evaluate.evaluate_run` for a run folder holding a HAND
model). Every store row is treated like a measured file that was already resampled: the
rows are on the model grid at the store's λ, so there is no wavelength conversion and no
resampling; the background step of :func:`xrdsim.measured.prepare.prepare_pattern` runs
on the row's span (first to last non-zero bin, the analogue of a file's measured range)
with the same estimator and defaults, the row is normalised to a maximum of 1, and the
resulting :class:`~xrdsim.measured.prepare.PreparedPattern` goes through
:func:`xrdsim_training.hand.predict_hand` — the peak finder, features and forests that
``xrdsim predict`` applies to a measured file.

The report has the neural report's per-split keys where they mean the same
(``n_patterns``, ``{cs,eg,sg}_accuracy``, ``sg_consistent_with_cs``,
``{cs,eg,sg}_top{1,3,5}``, ``cs_confusion``), plus ``n_failed``: rows that could not be
prepared (e.g. nothing above the background), counted as wrong in every accuracy;
``n_structures`` and ``structures_seen_in_training`` (how many of the split's structures
HAND was fitted on, from the run's ``hand_train_structures.txt``; None for a run without
it). A held-out split (equivariance, held-out invariance) with seen structures is named
in the report's ``warnings``: HAND trained on the store's whole peak database has seen
them, ``xrdsim train --method hand --data STORE`` fits the train structures only. HAND's
three forests are independent, so its SG is the SG forest's own argmax (no
``sg_accuracy_joint``); a top-k hit needs the label among the ``k`` most probable classes
*with non-zero probability* (a forest gives many classes exactly 0, and their order is
arbitrary).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from xrdsim_training.data.store import open_split, resolve_splits, store_structures
from xrdsim_training.evaluation.figures import confusion_figure
from xrdsim_training.evaluation.metrics import TOP_K, confusion_matrix
from xrdsim_training.hand.model import TRAIN_IDS_FILE, HandModel, predict_hand
from xrdsim_training.measured.labels import TASKS

from xrdsim.dataset.splits import HELD_OUT
from xrdsim.errors import PatternReadError, TrainingError
from xrdsim.files import write_json
from xrdsim.grid import grid_centers
from xrdsim.measured.background import POLY_DEGREE, SMOOTH_DEG, SNIP_WIDTH_DEG, estimate_background
from xrdsim.measured.prepare import PreparedPattern
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index

#: Rows read from the store at a time (12000 float32 each: 12 MB a block).
READ_BLOCK = 256
#: What ``xrdsim evaluate`` computes for a neural run and skips for HAND, with the reason.
SKIPPED = {
    "block_similarity": "needs a network's representation h",
    "representation": "t-SNE needs a network's representation h",
    "calibration": "temperature scaling needs a network's logits",
}
#: Report-key prefix of each task (``cs_accuracy``, ...), as in the neural report.
_SHORT = {"crystal_system": "cs", "extinction_group": "eg", "space_group": "sg"}


def grid_row_pattern(row: np.ndarray, *, source: str, wavelength: float,
                     background: str | None) -> PreparedPattern:
    """A store row prepared as :func:`~xrdsim.measured.prepare.prepare_pattern` prepares a
    measured file after resampling: background subtracted on the span from the first to
    the last non-zero bin (``background`` as there: ``"snip"``, ``"poly"`` or None), then
    normalised to a maximum of 1.

    Raises:
        PatternReadError: a row with no positive value, or none left above the background.
    """
    y = np.asarray(row, dtype=np.float64)
    inside = np.flatnonzero(y)
    if inside.size == 0 or not float(y.max()) > 0:
        raise PatternReadError(source, "the row holds no positive intensity")
    lo, hi = int(inside[0]), int(inside[-1])
    values = y[lo:hi + 1]
    bg = np.zeros_like(values)
    if background is not None:
        bg = estimate_background(grid_centers()[lo:hi + 1], values, method=background,
                                 width_deg=SNIP_WIDTH_DEG, degree=POLY_DEGREE,
                                 smooth_deg=SMOOTH_DEG)
        values = values - bg
    peak = float(values.max())
    if not peak > 0:
        raise PatternReadError(source, f"nothing rises above the {background} background")
    pattern = np.zeros_like(y)
    pattern[lo:hi + 1] = values / peak
    full_bg = np.zeros_like(y)
    full_bg[lo:hi + 1] = bg / peak
    measured = np.zeros(y.shape, dtype=bool)
    measured[lo:hi + 1] = True
    return PreparedPattern(pattern, full_bg, measured, source, wavelength,
                           {"format": "store row", "steps": [{"background": background}]})


def evaluate_hand_splits(run_dir: str | Path, *, data: str | Path,
                         splits: tuple[str, ...] | None = None,
                         output: str | Path | None = None, max_patterns: int = 0,
                         background: str | None = "snip") -> dict[str, Any]:
    """Score the HAND model of ``run_dir`` on ``splits`` of ``data``; write the JSON report.

    Args:
        run_dir: a HAND run (``xrdsim train --method hand``).
        data: the ``dataset.zarr`` store.
        splits: split names (default: those of
            :data:`~xrdsim_training.data.store.DEFAULT_SPLITS` the store has).
        output: report path (default ``run_dir/eval.json``).
        max_patterns: score at most this many evenly spaced rows per split (0 = all), the
            rows the neural evaluation scores with the same value.
        background: subtracted from each row before peak finding, as from a measured
            file (``"snip"``, ``"poly"``, None).

    Raises:
        TrainingError: not a HAND run, a store at another λ than the model, a missing or
            empty split.
    """
    run_dir = Path(run_dir)
    model = HandModel.load(run_dir)
    splits = resolve_splits(data, splits)
    ids, code = store_structures(data)
    ids_file = run_dir / TRAIN_IDS_FILE
    seen = set(ids_file.read_text().split()) if ids_file.is_file() else None
    report: dict[str, Any] = {"run": str(run_dir), "data": str(data), "method": "hand",
                              "background": background, "splits": {},
                              "skipped": dict(SKIPPED), "warnings": []}
    if seen is None:
        report["warnings"].append(f"{run_dir} has no {TRAIN_IDS_FILE} (trained before it was "
                                  "written): whether HAND saw the held-out structures is "
                                  "unknown")
    for split in splits:
        reader = open_split(data, split)
        wavelength = float(reader.attrs.get("wavelength", float("nan")))
        if not abs(wavelength - model.settings.wavelength) <= 1e-4:
            raise TrainingError(f"store {str(data)!r} holds patterns at λ = {wavelength} Å "
                                f"but the HAND model works at {model.settings.wavelength} Å; "
                                "evaluate on a store built at the model's wavelength")
        rows = reader.complete_rows()
        if rows.size == 0:
            raise TrainingError(f"split {split!r} of store {str(data)!r} holds no patterns; "
                                "score other splits (--split)")
        if max_patterns and rows.size > max_patterns:
            rows = rows[np.linspace(0, rows.size - 1, max_patterns).astype(np.int64)]
        labels = {t: reader.labels[t][rows] for t in TASKS}
        failed: dict[int, str] = {}
        results = predict_hand(run_dir, _prepared(reader, rows, wavelength, background, failed),
                               top_k=max(TOP_K))
        scores = split_scores(results, labels, failed, n=rows.size)
        structures = np.unique(reader.labels["structure_index"][rows])
        scores["n_structures"] = int(structures.size)
        scores["structures_seen_in_training"] = None if seen is None else \
            sum(i in seen for i in ids[structures])
        if scores["structures_seen_in_training"] and np.any(code[structures] == HELD_OUT):
            report["warnings"].append(
                f"{split}: HAND was fitted on {scores['structures_seen_in_training']} of its "
                f"{structures.size} held-out structures, so its scores there are not "
                "held-out scores; train with `xrdsim train --method hand --peaks P --data "
                "STORE` to fit the store's train structures only")
        report["splits"][split] = scores
    report["confusion_figure"] = str(confusion_figure(report, run_dir / "confusion_cs.png"))
    output = Path(output) if output is not None else run_dir / "eval.json"
    write_json(output, report)
    report["output"] = str(output)
    return report


def _prepared(reader: Any, rows: np.ndarray, wavelength: float, background: str | None,
              failed: dict[int, str]) -> Iterator[PreparedPattern]:
    """The prepared rows in order, read in blocks; a row that cannot be prepared is left
    out and its position recorded in ``failed``."""
    for start in range(0, rows.size, READ_BLOCK):
        idx = rows[start:start + READ_BLOCK]
        block = np.asarray(reader.patterns.oindex[idx, :], dtype=np.float64)
        for k, row in enumerate(block):
            source = f"{reader.split}[{int(idx[k])}]"
            try:
                yield grid_row_pattern(row, source=source, wavelength=wavelength,
                                       background=background)
            except PatternReadError as exc:
                failed[start + k] = exc.reason


def split_scores(results: list[dict[str, Any]], labels: dict[str, np.ndarray],
                 failed: dict[int, str], *, n: int) -> dict[str, Any]:
    """Per-split accuracies of :func:`predict_hand` records against the rows' labels.

    Args:
        results: the records of the rows that were prepared, in row order (those in
            ``failed`` left out).
        labels: per task the (n,) true labels of every row.
        failed: position → reason of the rows that were not prepared (counted wrong).
    """
    scored = [i for i in range(n) if i not in failed]
    records = dict(zip(scored, results, strict=True))
    for i, r in records.items():
        if "error" in r:
            failed[i] = r["error"]
    ok = np.array([i for i in scored if i not in failed], dtype=np.int64)
    out: dict[str, Any] = {"n_patterns": int(n), "n_failed": len(failed)}
    pred: dict[str, np.ndarray] = {}
    for task in TASKS:
        short, truth = _SHORT[task], labels[task]
        pred[task] = np.array([records[i][task]["prediction"] for i in ok], dtype=np.int64)
        out[f"{short}_accuracy"] = float(np.sum(pred[task] == truth[ok])) / n
        for k in TOP_K:
            hits = sum(any(label == truth[i] and p > 0
                               for label, p in records[i][task]["top_k"][:k]) for i in ok)
            out[f"{short}_top{k}"] = hits / n
    consistent = crystal_system_index(pred["space_group"]) == pred["crystal_system"]
    # share of the scored rows whose SG lies in their predicted crystal system
    out["sg_consistent_with_cs"] = float(np.mean(consistent)) if ok.size else None
    out["cs_confusion"] = confusion_matrix(labels["crystal_system"][ok], pred["crystal_system"],
                                           len(CRYSTAL_SYSTEMS)).tolist()
    if failed:
        out["failed"] = [[int(i), reason] for i, reason in sorted(failed.items())[:10]]
    return out
