"""Weights-only model files: a trained network in one small file, read without pickle.

``xrdsim export-model RUN -o FILE.npz`` (:func:`export_model`) writes the network of a
run's ``best.pt`` (else ``checkpoint.pt``) with the temperatures of its
``calibration.json``; ``xrdsim predict`` and ``xrdsim evaluate --measured`` and
:func:`xrdsim.predict` read it (:func:`read_model_file`) as they read a run. The package
ships one such file, :data:`BUNDLED_MODEL`, used when no model is named (the model card,
``docs/model_card.md``, says what it is and how to rebuild it).

The file is a ZIP archive in NumPy's ``.npz`` layout, written byte for byte the same for
the same weights (members stored uncompressed, in sorted order, dated 1980-01-01), so its
sha256 identifies the weights:

- ``header.json`` (first): ``format`` (:data:`MODEL_FORMAT`), ``model`` (the
  :class:`~xrdsim_training.config.ModelConfig`, input view included), ``classes`` (the
  crystal-system names, extinction-group symbols and space-group count the output columns
  mean), ``wavelength`` (Å of the model grid), ``temperatures`` (``{task: T}`` or null) and
  ``calibration`` (the fit's ECE / NLL before and after, or null), ``weights_sha256``
  (:func:`weights_digest` of the arrays), ``source`` (the checkpoint, its epoch, method,
  training settings, the digest of all its weights and its last validation scores),
  ``training_command`` and ``xrdsim_version`` — no date, path or timing, so the same run
  exports to the same bytes on every machine;
- one ``NAME.npy`` per tensor of the network's state dict except the projector
  (``projector.*``, used only by contrastive pre-training): float32 weights, int64 batch-norm
  step counters.

Reading validates before anything is used, and every refusal is a
:class:`~xrdsim.errors.ModelFileError` naming the file: a regular file of at most
:data:`MAX_MODEL_FILE_BYTES`; a ZIP with exactly the header and the tensors the header's
architecture has (names, then each array's ``.npy`` header: shape, dtype, no object arrays —
before its data is read); a member no larger than its array; the arrays read with
``np.load(allow_pickle=False)``; finite values; their digest equal to the header's. Nothing
in a model file is ever executed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from xrdsim_training.checkpoint import load_run
from xrdsim_training.config import ModelConfig
from xrdsim_training.evaluation.temperature import (
    CALIBRATION_FILE,
    T_BOUNDS,
    TASK_PROBS,
    load_temperatures,
)
from xrdsim_training.models import XrdNet
from xrdsim_training.runtime import resolve_device

from xrdsim import __version__
from xrdsim.errors import ConfigError, ModelFileError, TrainingError, brief
from xrdsim.files import regular_file_size
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
from xrdsim.structures.extinction_table import extinction_table
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, resolve_wavelength

MODEL_FORMAT = "xrdsim-model/1"
HEADER_NAME = "header.json"
#: State-dict prefixes left out of the file: the representation head of the contrastive
#: losses, which predictions never use (2.37 M of the default network's 2.84 M numbers).
LEFT_OUT = ("projector.",)
#: The model the package ships (``xrdsim predict FILES`` without ``--model``).
BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "bundled" / "default_model.npz"
#: Largest model file read: the largest architecture :class:`ModelConfig` allows, in float32.
MAX_MODEL_FILE_BYTES = 2 << 30
#: Largest header read (a real one is ~10 KB).
MAX_HEADER_BYTES = 1 << 20
#: Bytes a tensor's ``.npy`` member may hold beyond its array (the ``.npy`` header).
NPY_HEADER_SLACK = 4096
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LoadedModel:
    """A network ready to predict, from a run or a model file.

    Attributes:
        network: :class:`~xrdsim_training.models.XrdNet` in eval mode on its device (from a
            model file: without the projector, ``network.projector`` is None).
        temperatures: ``{task: T}`` of the calibration, or None.
        wavelength: Å of the model grid (files are converted to it).
        amp: bfloat16 autocast on CUDA, as the run trained.
        source: the run folder or model file.
        header: the model file's header (None for a run).
    """

    network: XrdNet
    temperatures: dict[str, float] | None
    wavelength: float
    amp: bool
    source: str
    header: dict[str, Any] | None = None


def load_model(model: str | Path | None = None, *, device: str = "auto") -> LoadedModel:
    """The network of a model file (``.npz``), of a run folder, or the bundled one (None).

    Raises:
        ModelFileError: a damaged or foreign model file (:func:`read_model_file`).
        TrainingError: a run without a checkpoint, of another architecture, ...
            (:func:`~xrdsim_training.checkpoint.load_run`).
    """
    path = BUNDLED_MODEL if model is None else Path(model)
    if not path.is_dir():
        return read_model_file(path, device=device)
    network, payload = load_run(path, device=device)
    return LoadedModel(network=network, temperatures=load_temperatures(path),
                       wavelength=DEFAULT_WAVELENGTH, amp=payload["config"].amp,
                       source=str(path))


def weights_digest(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the tensors in name order: name, dtype, shape and little-endian bytes."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        value = np.asarray(arrays[name], order="C")
        value = value.astype(value.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{name}\0{value.dtype.str}\0{list(value.shape)}\0".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _arrays(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().contiguous().numpy() for k, v in state.items()}


def _shipped(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.startswith(LEFT_OUT)}


def _class_lists(n_extinction_groups: int) -> dict[str, Any]:
    return {"crystal_system": list(CRYSTAL_SYSTEMS),
            "extinction_group": list(extinction_table().symbols[:n_extinction_groups]),
            "space_group": 230}


def export_model(run_dir: str | Path, output: str | Path, *, training_command: str | None = None,
                 wavelength: float | str = DEFAULT_WAVELENGTH, overwrite: bool = False
                 ) -> dict[str, Any]:
    """Write the network of ``run_dir`` (``best.pt``, else ``checkpoint.pt``) and its
    calibration as a model file.

    Args:
        run_dir: a neural run of ``xrdsim train`` (HAND runs are forests, not weights).
        output: the ``.npz`` to write.
        training_command: the command that trained the run, recorded in the header.
        wavelength: λ of the grid the run was trained at (Å or a preset name).
        overwrite: replace ``output`` if it is a model file already.

    Returns:
        ``{"output", "bytes", "sha256", "weights_sha256", "n_parameters", "header"}``.

    Raises:
        TrainingError: a HAND run, no checkpoint, an existing ``output`` (without
            ``overwrite``, or one that is not a model file), ``output`` without ``.npz``.
    """
    from xrdsim_training.checkpoint import best_checkpoint
    from xrdsim_training.hand.model import is_hand_run

    run_dir, output = Path(run_dir), Path(output)
    if is_hand_run(run_dir):
        raise TrainingError(f"{run_dir} is a HAND run (random forests, not network weights); "
                            "export a network run of `xrdsim train`")
    if output.suffix != ".npz":
        raise TrainingError(f"model file {str(output)!r} must end in .npz")
    _check_replaceable(output, overwrite)
    try:
        wl = resolve_wavelength(wavelength)
    except ConfigError as exc:
        raise TrainingError(f"--wavelength: {exc}") from None
    network, payload = load_run(run_dir, device="cpu")
    config = payload["config"]
    full = _arrays(network.state_dict())
    arrays = _shipped(full)
    temperatures = load_temperatures(run_dir)
    epoch = int(payload["epoch"])
    validation = [{k: v for k, v in row.items() if k.startswith("val_") or k == "epoch"}
                  for row in payload["history"] if row.get("epoch") == epoch]  # no timings
    header = {
        "format": MODEL_FORMAT,
        "model": config.model.to_dict(),
        "classes": _class_lists(config.model.n_extinction_groups),
        "wavelength": wl,
        "temperatures": temperatures,
        "calibration": _calibration_summary(run_dir) if temperatures else None,
        "weights_sha256": weights_digest(arrays),
        "source": {"checkpoint": best_checkpoint(run_dir).name, "epoch": epoch,
                   "method": config.method, "train_config": config.to_dict(),
                   "weights_sha256": weights_digest(full),
                   "validation": validation[-1] if validation else None},
        "training_command": training_command,
        "xrdsim_version": __version__,
    }
    write_model_file(output, arrays, header)
    return {"output": str(output), "bytes": output.stat().st_size,
            "sha256": file_sha256(output), "weights_sha256": header["weights_sha256"],
            "n_parameters": int(sum(a.size for a in arrays.values())), "header": header}


def _calibration_summary(run_dir: Path) -> dict[str, Any]:
    """The fit's split, sizes and per-task ECE / NLL from the run's calibration.json (its
    temperatures were validated by :func:`load_temperatures`)."""
    from xrdsim.config_files import read_config_file

    report = read_config_file(run_dir / CALIBRATION_FILE, what="calibration")
    keys = ("ece_before", "ece_after", "nll_before", "nll_after")
    out = {k: report.get(k) for k in ("split", "n_fit", "n_test")}
    for task in TASK_PROBS:
        out[task] = {k: report[task].get(k) for k in keys}
    return out


def _check_replaceable(output: Path, overwrite: bool) -> None:
    if not (output.exists() or output.is_symlink()):
        return
    if not overwrite:
        raise TrainingError(f"{output} exists; pass --overwrite to replace it")
    try:
        _read_header(output)
    except ModelFileError as exc:
        raise TrainingError(f"{output} is not an xrdsim model file ({exc.reason}); "
                            "--overwrite replaces only model files — move it away") from None


def write_model_file(path: str | Path, arrays: dict[str, np.ndarray], header: dict[str, Any]
                     ) -> None:
    """Write ``header`` and ``arrays`` as a model file, atomically and reproducibly."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(member(HEADER_NAME),
                         json.dumps(header, indent=1, sort_keys=True) + "\n")
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[name], order="C"),
                                      allow_pickle=False)
            archive.writestr(member(f"{name}.npy"), buffer.getvalue())
    os.replace(tmp, path)


def read_model_file(path: str | Path, *, device: str = "auto") -> LoadedModel:
    """The network of a model file, validated (module docstring) before it is used.

    Raises:
        ModelFileError: naming the file and what is wrong with it.
    """
    path = Path(path)
    header = _read_header(path)
    config, temperatures = _check_header(path, header)
    network = XrdNet(config)
    expected = _shipped(network.state_dict())
    arrays = _read_arrays(path, {k: (tuple(v.shape), _numpy_dtype(v)) for k, v in
                                 expected.items()})
    if weights_digest(arrays) != header["weights_sha256"]:
        raise ModelFileError(str(path), "its tensors do not match the header's weights_sha256 "
                             "(damaged, or tensors swapped); export the model again")
    missing, unexpected = network.load_state_dict(
        {k: torch.from_numpy(v) for k, v in arrays.items()}, strict=False)
    assert not unexpected and all(k.startswith(LEFT_OUT) for k in missing)
    network.projector = None  # not shipped: a model file predicts, it does not pre-train
    return LoadedModel(network=network.to(resolve_device(device)).eval(),
                       temperatures=temperatures, wavelength=float(header["wavelength"]),
                       amp=bool(header["source"]["train_config"].get("amp", False)),
                       source=str(path), header=header)


def _numpy_dtype(tensor: torch.Tensor) -> np.dtype:
    return torch.empty(0, dtype=tensor.dtype).numpy().dtype


def _open_archive(path: Path) -> zipfile.ZipFile:
    regular_file_size(
        path, limit=MAX_MODEL_FILE_BYTES, error=ModelFileError, what="model file",
        unreadable_fix="; give a file written by `xrdsim export-model` or a run folder",
        irregular_fix="; give a model file (.npz of `xrdsim export-model`) or a run folder",
        too_big="the largest xrdsim model has; refused unread")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(str(path), f"not a model file (not an .npz / ZIP archive: "
                             f"{' '.join(str(exc).split())[:100]}); give a file written by "
                             "`xrdsim export-model` or a run folder") from None


def _read_header(path: Path) -> dict[str, Any]:
    """The parsed ``header.json`` of a model file (size- and depth-capped), format checked."""
    from xrdsim.config_files import parse_config_text

    src = str(path)
    with _open_archive(path) as archive:
        try:
            info = archive.getinfo(HEADER_NAME)
        except KeyError:
            raise ModelFileError(src, f"no {HEADER_NAME} in the archive: not a model file of "
                                 "`xrdsim export-model` (a plain .npz of arrays is not one)"
                                 ) from None
        if info.file_size > MAX_HEADER_BYTES:
            raise ModelFileError(src, f"{HEADER_NAME} has {info.file_size} bytes, more than "
                                 f"{MAX_HEADER_BYTES}; refused unread")
        try:
            text = archive.read(info).decode("utf-8")
            header = parse_config_text(text, suffix=".json", source=f"{src} {HEADER_NAME}")
        except (ConfigError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise ModelFileError(src, f"{HEADER_NAME} unreadable ({brief(str(exc), 160)})"
                                 ) from None
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise ModelFileError(src, f"header format is {brief(found)}, not {MODEL_FORMAT!r}; "
                             "export the model again with this xrdsim")
    return header


def _check_header(path: Path, header: dict[str, Any]
                  ) -> tuple[ModelConfig, dict[str, float] | None]:
    """The architecture and temperatures a header names, each checked."""
    src = str(path)
    try:
        config = ModelConfig.from_dict(header.get("model"), saved=True)
    except (ConfigError, TypeError) as exc:
        raise ModelFileError(src, f"header 'model': {brief(str(exc), 200)}") from None
    table = extinction_table()
    if config.n_extinction_groups != table.n_classes:
        raise ModelFileError(src, f"the model has {config.n_extinction_groups} extinction "
                             f"groups but this xrdsim's table has {table.n_classes}; use the "
                             "xrdsim version that exported it")
    if header.get("classes") != _class_lists(config.n_extinction_groups):
        raise ModelFileError(src, "header 'classes' differ from this xrdsim's crystal systems "
                             "/ extinction-group symbols / 230 space groups: its output columns "
                             "mean other classes; use the xrdsim version that exported it")
    wl = header.get("wavelength")
    if isinstance(wl, bool) or not isinstance(wl, (int, float)) or not 0 < wl < 100:
        raise ModelFileError(src, f"header 'wavelength' must be Å in (0, 100), got {brief(wl)}")
    if not isinstance(header.get("weights_sha256"), str) or not _SHA256.fullmatch(
            header["weights_sha256"]):
        raise ModelFileError(src, "header 'weights_sha256' is not a sha256 hex digest")
    source = header.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("train_config"), dict):
        raise ModelFileError(src, "header 'source' lacks the run's train_config")
    raw = header.get("temperatures")
    if raw is None:
        return config, None
    if not isinstance(raw, dict) or set(raw) != set(TASK_PROBS) or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool)
            and T_BOUNDS[0] <= t <= T_BOUNDS[1] for t in raw.values()):
        raise ModelFileError(src, f"header 'temperatures' must be null or one number in "
                             f"[{T_BOUNDS[0]:g}, {T_BOUNDS[1]:g}] per task {sorted(TASK_PROBS)}, "
                             f"got {brief(raw)}")
    return config, {k: float(v) for k, v in raw.items()}


def _read_arrays(path: Path, expected: dict[str, tuple[tuple[int, ...], np.dtype]]
                 ) -> dict[str, np.ndarray]:
    """The tensors of a model file, each ``.npy`` header checked against ``expected``
    (shape, dtype) before ``np.load(allow_pickle=False)`` reads its data."""
    src = str(path)
    with _open_archive(path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        names = {n[:-4] for n in infos if n.endswith(".npy")}
        odd = sorted(n for n in infos if n != HEADER_NAME and not n.endswith(".npy"))
        if odd or len(infos) != len(archive.infolist()):
            raise ModelFileError(src, f"holds members that are not tensors: "
                                 f"{brief(odd or 'duplicated names')}; export the model again")
        if names != set(expected):
            missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
            raise ModelFileError(src, "its tensors do not fit the architecture of its header ("
                                 + "; ".join(part for part in (
                                     f"missing {brief(missing, 160)}" if missing else "",
                                     f"not in the architecture {brief(extra, 160)}"
                                     if extra else "") if part)
                                 + "); export the model again")
        for name, (shape, dtype) in expected.items():
            info = infos[f"{name}.npy"]
            try:
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    found_shape, fortran, found_dtype = read(handle)
            except (ValueError, OSError, zipfile.BadZipFile) as exc:
                raise ModelFileError(src, f"tensor {name!r} is not a NumPy array "
                                     f"({brief(str(exc), 120)})") from None
            if found_dtype.hasobject:
                raise ModelFileError(src, f"tensor {name!r} is an object array: loading it "
                                     "would unpickle Python objects, which can run code; model "
                                     "files hold numbers only — refused")
            if found_shape != shape or found_dtype != dtype or fortran:
                raise ModelFileError(src, f"tensor {name!r} is {found_dtype} of shape "
                                     f"{list(found_shape)}{' (Fortran order)' if fortran else ''}"
                                     f"; the header's architecture needs {dtype} of shape "
                                     f"{list(shape)}; export the model again")
            if info.file_size > dtype.itemsize * int(np.prod(shape)) + NPY_HEADER_SLACK:
                raise ModelFileError(src, f"tensor {name!r} takes {info.file_size} bytes, far "
                                     "more than its array; refused")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in expected}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(src, f"tensors unreadable ({brief(str(exc), 120)}); export the "
                             "model again") from None
    bad = [n for n, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
    if bad:
        raise ModelFileError(src, f"tensor(s) {brief(bad, 120)} hold NaN or infinite values; "
                             "export the model of a run that trained without diverging")
    return arrays
