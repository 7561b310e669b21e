"""Predict crystal system, extinction group and space group of measured patterns with a
trained model — a run folder of ``xrdsim train``, a model file of ``xrdsim export-model``, or
the bundled model (:mod:`xrdsim_training.measured.model_file`) — and score them against a
labels CSV.

A HAND run (:func:`xrdsim_training.hand.model.is_hand_run`) goes through
:func:`xrdsim_training.hand.model.predict_hand` at the model's own λ (``to_wavelength``
and ``device`` do not apply; ``background="auto"`` is SNIP) and its records take the
same shape, with ``n_peaks`` and ``peaks`` (2θ found) added and the forests' vote
fractions as probabilities. Everything below is the neural path.

Each file goes through the same steps as ``xrdsim prepare``
(:func:`xrdsim.measured.readers.read_pattern`, then :func:`model_input`:
:func:`xrdsim.measured.prepare.prepare_pattern`'s λ conversion to the model's grid
wavelength, resampling onto the 12,000-bin grid, max = 1), then through the network
(:func:`rank`, :func:`xrdsim_training.inference.predict`), whose first layer
(:class:`xrdsim_training.models.view.PatternView`) windows the pattern and subtracts its
background exactly as it did for the simulated training views. Patterns given as arrays
(:func:`xrdsim.predict`, :mod:`xrdsim_training.measured.api`) take the same two steps. A
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

plus ``"calibrated"`` (probabilities temperature-scaled with the run's
``calibration.json`` or the model file's temperatures,
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
from xrdsim_training.evaluation.temperature import TASK_PROBS, UNSURE_BELOW, apply_temperature
from xrdsim_training.hand.model import is_hand_run, predict_hand
from xrdsim_training.inference import predict
from xrdsim_training.measured.labels import (
    TASKS,
    accuracy_report,
    read_labels,
    space_group_symbol,
)
from xrdsim_training.measured.model_file import LoadedModel, load_model

from xrdsim.errors import ConfigError, PatternReadError, XrdsimError
from xrdsim.measured.paths import pattern_files
from xrdsim.measured.prepare import prepare_pattern, unexpected_reason
from xrdsim.measured.readers import SUFFIX_FORMATS, MeasuredPattern, read_pattern
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index
from xrdsim.structures.extinction_table import extinction_table
from xrdsim.wavelengths import resolve_wavelength

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
    model: str | Path | None,
    paths: Iterable[str | Path],
    *,
    wavelength: float | str | None = None,
    to_wavelength: float | str | None = None,
    background: str | None = "auto",
    top_k: int = 3,
    labels: str | Path | dict[str, int] | None = None,
    device: str = "auto",
    force_wavelength: bool = False,
) -> list[dict[str, Any]]:
    """Predict CS / EG / SG of measured pattern files with a trained model.

    Args:
        model: a run folder of ``xrdsim train`` (a network's ``checkpoint.pt``, or a HAND
            model), a model file of ``xrdsim export-model``, or None: the bundled model.
        paths: pattern files, folders and glob patterns
            (:func:`xrdsim.measured.paths.pattern_files`).
        wavelength: λ of files that state none, Å or a preset name (``"CuKa"``).
        to_wavelength: λ of the model grid; None: the model file's, 1.5418 Å for a run.
        background: ``"snip"``, ``"poly"`` or None, as ``xrdsim prepare``; ``"auto"``
            (default): None when the model's view subtracts a background itself, else
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
        TrainingError: see :func:`~xrdsim_training.measured.model_file.load_model`; a HAND
            run's :meth:`~xrdsim_training.hand.model.HandModel.load`.
    """
    check_top_k(top_k)
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
    if model is not None and is_hand_run(model):
        return _hand_records(model, files, wavelength=wavelength, background=background,
                             top_k=top_k, labels=labels, force=force_wavelength)
    loaded = load_model(model, device=device)
    records: list[dict[str, Any]] = []
    for start in range(0, len(files), BATCH_SIZE):
        chunk = [_prepare(p, loaded, wavelength=wavelength, to_wavelength=to_wavelength,
                          background=background, labels=labels, force=force_wavelength)
                 for p in files[start:start + BATCH_SIZE]]
        good = [(rec, grid) for rec, grid in chunk if grid is not None]
        if good:
            ranked = rank(loaded, [grid for _, grid in good], top_k,
                          truths=[rec["true"] for rec, _ in good])
            for (rec, _), result in zip(good, ranked, strict=True):
                rec.update(result)
        records.extend(rec for rec, _ in chunk)
    if viewless(loaded):
        for rec in records:
            rec["warnings"].append(VIEWLESS_WARNING)
    return records


def check_top_k(top_k: Any) -> None:
    """Raises ConfigError unless ``top_k`` is an integer ≥ 1."""
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise ConfigError(f"top_k must be an integer ≥ 1, got {top_k!r}")


def viewless(loaded: LoadedModel) -> bool:
    """Whether the network has no input view (whole grid, simulated background kept)."""
    return loaded.network.config.view_background == "none"


def model_input(measured: MeasuredPattern, loaded: LoadedModel, *,
                to_wavelength: float | str | None = None, background: str | None = "auto"
                ) -> np.ndarray:
    """The (12000,) float32 grid pattern ``loaded``'s network gets for ``measured``:
    :func:`~xrdsim.measured.prepare.prepare_pattern` onto the grid at ``to_wavelength``
    (None: the model's grid λ), with ``background`` (``"auto"``: None when the network's
    view subtracts one, else SNIP).

    Raises:
        PatternReadError: a pattern the grid cannot take (see ``prepare_pattern``).
    """
    if background == "auto":
        background = "snip" if viewless(loaded) else None
    target = loaded.wavelength if to_wavelength is None else to_wavelength
    return prepare_pattern(measured, to_wavelength=target, background=background).pattern


def rank(loaded: LoadedModel, grids: list[np.ndarray], top_k: int, *,
         truths: list[dict[str, int] | None] | None = None) -> list[dict[str, Any]]:
    """Per grid pattern: the three task records (module docstring), ``calibrated`` and
    ``unsure``, from one pass of the network (temperature-scaled when calibrated)."""
    network = loaded.network
    batch = _batch(grids, truths or [None] * len(grids))
    pred = predict(network, [batch], device=next(network.parameters()).device, amp=loaded.amp)
    probs = {task: getattr(pred, key) for task, key in TASK_PROBS.items()}
    if loaded.temperatures is not None:
        probs = {t: apply_temperature(p, loaded.temperatures[t]) for t, p in probs.items()}
    out = []
    for i in range(len(grids)):
        result = _ranked(probs["crystal_system"][i], probs["extinction_group"][i],
                         probs["space_group"][i], int(pred.sg_routed[i]), top_k)
        result["calibrated"] = loaded.temperatures is not None
        result["unsure"] = result["crystal_system"]["probability"] < UNSURE_BELOW
        out.append(result)
    return out


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


def _prepare(path: Path, loaded: LoadedModel, *, wavelength: Any, to_wavelength: Any,
             background: str | None, labels: dict[str, int] | None, force: bool
             ) -> tuple[dict[str, Any], np.ndarray | None]:
    """(record, (12000,) float32 grid pattern or None when the file failed)."""
    record: dict[str, Any] = {"source": str(path), "file": path.name,
                              "true": _truth(path.name, labels)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            measured = read_pattern(path, wavelength=wavelength, force_wavelength=force)
            grid = model_input(measured, loaded, to_wavelength=to_wavelength,
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
    return record, grid


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
