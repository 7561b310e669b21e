"""Predict crystal system, extinction group and space group of measured pattern files
with a run written by ``xrdsim train`` (and score them against a labels CSV).

A HAND run (:func:`xrdsim_training.hand.model.is_hand_run`) goes through
:func:`xrdsim_training.hand.model.predict_hand` at the model's own λ (``to_wavelength``
and ``device`` do not apply; ``background="auto"`` is SNIP) and its records take the
same shape, with ``n_peaks`` and ``peaks`` (2θ found) added and the forests' vote
fractions as probabilities. Everything below is the neural path.

Each file goes through the same steps as ``xrdsim prepare``
(:func:`xrdsim.measured.readers.read_pattern` → :func:`xrdsim.measured.prepare.prepare_pattern`: λ
conversion to the training wavelength, resampling onto the 12,000-bin grid, max = 1), then
through the network of ``RUN_DIR/checkpoint.pt`` (:func:`xrdsim_training.inference.predict`),
whose first layer (:class:`xrdsim_training.models.view.PatternView`) windows the pattern and
subtracts its background exactly as it did for the simulated training views. A
``background`` asked for here is subtracted *before* that, on the file's whole scan; the
default ``"auto"`` leaves the background to the model's view (runs saved before the view
existed see ``"snip"``-prepared files, as they always did). A file that cannot be read or
prepared gives an error record and the batch goes on.

Per file (:func:`predict_files`), in input order::

    {"source": path, "file": basename, "wavelength": Å, "wavelength_source": ...,
     "warnings": [...],
     "crystal_system":   {"prediction": 0–6, "name", "probability", "top_k": [...]},
     "extinction_group": {"prediction": 0–K−1, "symbol", "probability", "top_k": [...]},
     "space_group":      {"prediction": 1–230 (routed), "symbol", "probability",
                          "top_k": [...] (joint p(cs)·p(sg|cs))},
     "true": {"crystal_system", "extinction_group", "space_group"} or None}

plus ``"calibrated"`` (probabilities temperature-scaled with ``RUN_DIR/calibration.json``,
:mod:`xrdsim_training.evaluation.temperature`) and ``"unsure"`` (top-1 CS probability below
:data:`~xrdsim_training.evaluation.temperature.UNSURE_BELOW`: read the top-k, not the top-1),
or ``{"source", "file", "error", "true"}`` for a file that failed. ``top_k`` entries are
``{"label", "name"|"symbol", "probability"}``, most probable first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xrdsim_training.checkpoint import load_run
from xrdsim_training.evaluation.temperature import (
    TASK_PROBS,
    UNSURE_BELOW,
    apply_temperature,
    load_temperatures,
)
from xrdsim_training.hand.model import is_hand_run, predict_hand
from xrdsim_training.inference import predict
from xrdsim_training.measured.labels import (
    TASKS,
    accuracy_report,
    read_labels,
    space_group_symbol,
)

from xrdsim.errors import ConfigError, PatternReadError, XrdsimError
from xrdsim.measured.paths import pattern_files
from xrdsim.measured.prepare import prepare_pattern, unexpected_reason
from xrdsim.measured.readers import SUFFIX_FORMATS, read_pattern
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index
from xrdsim.structures.extinction_table import extinction_table
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, resolve_wavelength

#: Files prepared and sent through the network together (bounds memory: 48 kB a file).
BATCH_SIZE = 64
#: Added to every record of a run whose network has no input view (whole grid, no
#: background subtraction): runs saved before the view existed, and every run of
#: ``xrdsim train`` before the fix that made flags get the default view.
VIEWLESS_WARNING = ("this run was trained without the input view (whole 0-120 deg grid, "
                    "simulated background kept), so measured files reach it prepared "
                    "differently from its training patterns; retrain it with this xrdsim "
                    "(default view: 5-90 deg, SNIP on both) before trusting it on measured data")


def predict_files(
    run_dir: str | Path,
    paths: Iterable[str | Path],
    *,
    wavelength: float | str | None = None,
    to_wavelength: float | str = DEFAULT_WAVELENGTH,
    background: str | None = "auto",
    top_k: int = 3,
    labels: str | Path | dict[str, int] | None = None,
    device: str = "auto",
    force_wavelength: bool = False,
) -> list[dict[str, Any]]:
    """Predict CS / EG / SG of measured pattern files with a trained run.

    Args:
        run_dir: a run directory of ``xrdsim train`` (a network's ``checkpoint.pt``, or a
            HAND model).
        paths: pattern files, folders and glob patterns
            (:func:`xrdsim.measured.paths.pattern_files`).
        wavelength: λ of files that state none, Å or a preset name (``"CuKa"``).
        to_wavelength: λ of the model grid, the wavelength the run was trained at.
        background: ``"snip"``, ``"poly"`` or None, as ``xrdsim prepare``; ``"auto"``
            (default): None when the run's view subtracts a background itself, else
            ``"snip"`` (runs without an input view).
        top_k: candidates listed per task (1 ≤ top_k).
        labels: a labels CSV (see :func:`read_labels`) or ``{basename: space group}``;
            fills each record's ``true``.
        device: ``"auto"``, ``"cpu"``, ``"cuda[:n]"``.
        force_wavelength: use ``wavelength`` even where a file states its own λ
            (otherwise the file's value wins).

    Returns:
        one record per file, in order (module docstring).

    Raises:
        ConfigError: ``top_k`` < 1, an unknown ``wavelength``, no files, a bad labels CSV.
        TrainingError: see :func:`~xrdsim_training.checkpoint.load_run`; a HAND run's
            :meth:`~xrdsim_training.hand.model.HandModel.load`.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be an integer ≥ 1, got {top_k!r}")
    if wavelength is not None:
        resolve_wavelength(wavelength)  # a bad name is the user's error, not each file's
    paths = list(paths)
    exclude = [labels] if isinstance(labels, (str, Path)) else []
    files = pattern_files(paths, exclude=exclude)
    if not files:
        raise ConfigError(f"no pattern files in {[str(p) for p in paths]}; give files or "
                          f"folders holding {', '.join(sorted(SUFFIX_FORMATS))} files")
    if isinstance(labels, (str, Path)):
        labels = read_labels(labels)
    if is_hand_run(run_dir):
        return _hand_records(run_dir, files, wavelength=wavelength, background=background,
                             top_k=top_k, labels=labels, force=force_wavelength)
    model, payload = load_run(run_dir, device=device)
    amp = payload["config"].amp
    viewless = payload["config"].model.view_background == "none"
    if background == "auto":
        background = "snip" if viewless else None
    temperatures = load_temperatures(run_dir)
    records: list[dict[str, Any]] = []
    for start in range(0, len(files), BATCH_SIZE):
        chunk = [_prepare(p, wavelength=wavelength, to_wavelength=to_wavelength,
                          background=background, labels=labels, force=force_wavelength)
                 for p in files[start:start + BATCH_SIZE]]
        good = [(rec, grid) for rec, grid in chunk if grid is not None]
        if good:
            batch = _batch([grid for _, grid in good], [rec["true"] for rec, _ in good])
            pred = predict(model, [batch], device=next(model.parameters()).device, amp=amp)
            probs = {task: getattr(pred, key) for task, key in TASK_PROBS.items()}
            if temperatures is not None:
                probs = {t: apply_temperature(p, temperatures[t]) for t, p in probs.items()}
            for i, (rec, _) in enumerate(good):
                rec.update(_ranked(probs["crystal_system"][i], probs["extinction_group"][i],
                                   probs["space_group"][i], int(pred.sg_routed[i]), top_k))
                rec["calibrated"] = temperatures is not None
                rec["unsure"] = rec["crystal_system"]["probability"] < UNSURE_BELOW
        records.extend(rec for rec, _ in chunk)
    if viewless:
        for rec in records:
            rec["warnings"].append(VIEWLESS_WARNING)
    return records


def accuracy_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracies of the predicted, labelled records (SG: the routed prediction).

    Returns:
        :func:`xrdsim_training.hand.accuracy_report` (``n``, ``accuracy`` per task,
        ``per_crystal_system`` by true CS, ``sg_consistent_with_cs``) plus ``n_failed``
        (labelled files that could not be predicted) and ``n_unlabelled``.
    """
    scored = [r for r in records if r.get("true") is not None and "error" not in r]
    true = {t: np.array([r["true"][t] for r in scored], dtype=np.int64) for t in TASKS}
    pred = {t: np.array([r[t]["prediction"] for r in scored], dtype=np.int64) for t in TASKS}
    report = accuracy_report(true, pred)
    report["n_failed"] = sum(1 for r in records if r.get("true") is not None and "error" in r)
    report["n_unlabelled"] = sum(1 for r in records if r.get("true") is None)
    return report


def _prepare(path: Path, *, wavelength: Any, to_wavelength: Any, background: str | None,
             labels: dict[str, int] | None, force: bool
             ) -> tuple[dict[str, Any], np.ndarray | None]:
    """(record, (12000,) float32 grid pattern or None when the file failed)."""
    record: dict[str, Any] = {"source": str(path), "file": path.name,
                              "true": _truth(path.name, labels)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            measured = read_pattern(path, wavelength=wavelength, force_wavelength=force)
            prepared = prepare_pattern(measured, to_wavelength=to_wavelength,
                                       background=background)
        except PatternReadError as exc:
            record["error"] = exc.reason
        except XrdsimError as exc:  # e.g. too few points for the polynomial degree
            record["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one file never stops the batch
            record["error"] = unexpected_reason(exc)
    record["warnings"] = [str(w.message) for w in caught]
    if "error" in record:
        return record, None
    record["wavelength"] = measured.wavelength
    record["wavelength_source"] = measured.metadata.get("wavelength_source")
    return record, prepared.pattern


def _truth(name: str, labels: dict[str, int] | None) -> dict[str, int] | None:
    """The three labels of file ``name`` from ``{basename: space group}``, or None."""
    if labels is None or name not in labels:
        return None
    sg = labels[name]
    return {"crystal_system": int(crystal_system_index(sg)),
            "extinction_group": extinction_table().of_space_group(sg), "space_group": sg}


def _hand_records(run_dir: str | Path, files: list[Path], *, wavelength: Any,
                  background: str | None, top_k: int, labels: dict[str, int] | None,
                  force: bool) -> list[dict[str, Any]]:
    """:func:`~xrdsim_training.hand.model.predict_hand` records in this module's shape."""
    rows = predict_hand(run_dir, files, wavelength=wavelength, top_k=top_k,
                        background="snip" if background == "auto" else background,
                        force_wavelength=force)
    key = {"crystal_system": "name", "extinction_group": "symbol", "space_group": "symbol"}
    records = []
    for path, row in zip(files, rows, strict=True):
        record: dict[str, Any] = {"source": str(path), "file": path.name, "warnings": [],
                                  "true": _truth(path.name, labels)}
        if "error" in row:
            records.append({**record, "error": row["error"]})
            continue
        for task, name in key.items():
            top = [{"label": int(c), name: (space_group_symbol(int(c)) if task == "space_group"
                                            else n), "probability": float(p)}
                   for (c, p), n in zip(row[task]["top_k"], row[task]["names"], strict=True)]
            record[task] = {"prediction": top[0]["label"], name: top[0][name],
                            "probability": top[0]["probability"], "top_k": top}
        record.update(n_peaks=row["n_peaks"], peaks=row["peaks"], calibrated=False,
                      unsure=record["crystal_system"]["probability"] < UNSURE_BELOW)
        records.append(record)
    return records


def _batch(grids: list[np.ndarray], truths: list[dict[str, int] | None]
           ) -> dict[str, torch.Tensor]:
    """A batch for :func:`~xrdsim_training.inference.predict`; unknown labels are −1."""
    n = len(grids)
    out = {"pattern": torch.from_numpy(np.stack(grids).astype(np.float32))}
    for task in TASKS:
        out[task] = torch.tensor([t[task] if t else -1 for t in truths], dtype=torch.int64)
    out["structure_index"] = torch.arange(n, dtype=torch.int64)
    out["view"] = torch.zeros(n, dtype=torch.int64)
    return out


def _ranked(cs: np.ndarray, eg: np.ndarray, sg: np.ndarray, routed: int, k: int
            ) -> dict[str, Any]:
    """The three task records of one file from its probabilities."""
    symbols = extinction_table().symbols

    def top(prob: np.ndarray, offset: int, key: str, name: Any) -> list[dict[str, Any]]:
        order = np.argsort(-prob, kind="stable")[:k]
        return [{"label": int(i) + offset, key: name(int(i) + offset),
                 "probability": float(prob[i])} for i in order]

    cs_top = top(cs, 0, "name", lambda i: CRYSTAL_SYSTEMS[i])
    eg_top = top(eg, 0, "symbol", lambda i: symbols[i])
    return {
        "crystal_system": {"prediction": cs_top[0]["label"], "name": cs_top[0]["name"],
                           "probability": cs_top[0]["probability"], "top_k": cs_top},
        "extinction_group": {"prediction": eg_top[0]["label"], "symbol": eg_top[0]["symbol"],
                             "probability": eg_top[0]["probability"], "top_k": eg_top},
        "space_group": {"prediction": routed, "symbol": space_group_symbol(routed),
                        "probability": float(sg[routed - 1]),
                        "top_k": top(sg, 1, "symbol", space_group_symbol)},
    }
