"""Build manifests: what went into a dataset and what came out (SPEC §4).

A manifest is one JSON file, ``data_manifests/<name>.json``, written at the end of
every build. It holds no wall-clock times, host names or absolute paths: an input is
recorded by :func:`recorded_name` (the bundled data by its package path, a file inside
the working directory relative to it, any other file by its name) with its size and
sha256, and the store's ``structures/source`` column uses the same names. So two builds
of the same inputs and settings write the same manifest wherever the checkout lives
(the default build's manifest is committed to the repository).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.config_files import read_config_file
from xrdsim.errors import DatasetError
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
from xrdsim.structures.mix import recipe_path

#: Version of the manifest layout.
MANIFEST_FORMAT = "xrdsim-manifest/1"
#: File suffixes a source folder contributes (as structure readers scan folders).
SOURCE_SUFFIXES = (".cif", ".csv", ".csv.gz", ".h5", ".hdf5")
_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def input_files(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """The files behind ``sources``: files as given, folders expanded (sorted, not recursive)."""
    out: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir()
                              if f.is_file() and f.name.lower().endswith(SOURCE_SUFFIXES)))
        else:
            out.append(p)
    return out


def recorded_name(path: str | os.PathLike, *, labels: Mapping[str, str] | None = None) -> str:
    """How an input file is named in manifests and stores, the same wherever the repository
    or the data lives: its label (``labels``, e.g. the bundled default file by its package
    path), else its path relative to the working directory (POSIX) when it lies inside it,
    else its file name alone (its sha256 identifies it)."""
    p = Path(path)
    for key, name in (labels or {}).items():
        if p.resolve() == Path(key).resolve():
            return name
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name


def describe_inputs(sources: Iterable[str | os.PathLike], *,
                    labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """``[{"path", "bytes", "sha256"}]`` for every input file (``path`` is its
    :func:`recorded_name`), plus ``"mix"``: the recipe of a table written by
    :func:`xrdsim.structures.mix.mix_sources` (its ``<stem>.mix.json``).

    Args:
        sources: files and folders as given to the build.
        labels: optional ``{real path: name to record}`` (e.g. the bundled default
            file is recorded by its package path, not the install location).

    Raises:
        DatasetError: for a missing file.
    """
    out = []
    for f in input_files(sources):
        if not f.is_file():
            raise DatasetError(f"input {f} does not exist or is not a file")
        entry = {"path": recorded_name(f, labels=labels), "bytes": f.stat().st_size,
                 "sha256": file_sha256(f)}
        recipe = recipe_path(f)
        if recipe.is_file():
            entry["mix"] = read_config_file(recipe, what="mix recipe")
        out.append(entry)
    return out


def portable_sources(sources: Iterable[str], inputs: Iterable[str | os.PathLike], *,
                     labels: Mapping[str, str] | None = None) -> list[str]:
    """``sources`` (``"<file>"`` or ``"<file>#<id>"`` as the structure readers write them)
    with each input file's path replaced by its :func:`recorded_name`."""
    names = {str(f): recorded_name(f, labels=labels) for f in input_files(inputs)}
    prefixes = sorted(names, key=len, reverse=True)
    out = []
    for s in sources:
        s = str(s)
        hit = next((p for p in prefixes if s == p or s.startswith(p + "#")), None)
        out.append(s if hit is None else names[hit] + s[len(hit):])
    return out


def class_counts(values: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    """``{class name: count}`` of the non-zero classes among integer labels ``values``."""
    counts = np.bincount(np.asarray(values, dtype=np.int64), minlength=len(names))
    return {names[i]: int(c) for i, c in enumerate(counts) if c}


def split_summary(*, n_structures: int, n_patterns: int, views: int, config: str,
                  structures: str, crystal_system: np.ndarray, extinction_group: np.ndarray,
                  extinction_symbols: Sequence[str]) -> dict[str, Any]:
    """Manifest entry of one split; class counts are over its structures (not patterns)."""
    return {
        "config": config, "structures": structures, "views": int(views),
        "n_structures": int(n_structures), "n_patterns": int(n_patterns),
        "crystal_system_counts": class_counts(crystal_system, CRYSTAL_SYSTEMS),
        "extinction_group_counts": class_counts(extinction_group, extinction_symbols),
    }


def dataset_manifest(*, name: str, inputs: Sequence[Mapping[str, Any]], store: Path,
                     failures: Sequence[tuple[str, str]], n_structures: int,
                     splits: Mapping[str, Any], configs: Mapping[str, Any],
                     settings: Mapping[str, Any], seeds: Mapping[str, int],
                     assignment_sha256: str, progress: bool = False,
                     checksums: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The manifest of a finished build (adds versions and the store's checksums).

    ``store.checksums`` maps every array (``"train/patterns"``, ...) to the sha256 of
    its stored bytes (:func:`xrdsim.dataset.checksums.array_checksums`); ``store.bytes`` is the
    size on disk of the stored arrays' chunk files (the ``zarr.json`` metadata documents
    are left out: they hold the platform string of the machine that built the store).
    ``checksums`` already computed (the build's) are reused.
    """
    from xrdsim.dataset.checksums import array_checksums
    from xrdsim.versions import package_versions

    return {
        "name": name, "inputs": list(inputs),
        "structures": {"n_structures": int(n_structures), "n_failed": len(failures),
                       "failures": [{"source": s, "reason": r} for s, r in failures]},
        "splits": dict(splits), "configs": dict(configs), "settings": dict(settings),
        "seeds": dict(seeds), "split_assignment_sha256": assignment_sha256,
        "versions": {k: v for k, v in package_versions().items() if k != "platform"},
        "store": {"path": store.name,
                  "checksums": dict(checksums) if checksums is not None
                  else array_checksums(store, progress=progress),
                  "bytes": sum(f.stat().st_size for f in store.rglob("*")
                               if f.is_file() and f.name != "zarr.json")},
    }


def settings_differences(stored: Any, asked: Any) -> list[tuple[str, Any, Any]]:
    """``(dotted key, stored value, asked value)`` of every leaf where two settings differ."""
    a, b = _flatten(stored), _flatten(asked)
    return [(k, a.get(k, "<absent>"), b.get(k, "<absent>")) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(obj, list | tuple):
        return {prefix.rstrip("."): [_flatten(v) if isinstance(v, Mapping) else v for v in obj]}
    return {prefix.rstrip("."): obj}



def write_manifest(manifest: Mapping[str, Any], directory: str | os.PathLike,
                   name: str) -> Path:
    """Write ``<directory>/<name>.json`` (atomically, sorted keys) and return its path.

    Raises:
        DatasetError: for a name with path separators or an unwritable folder.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise DatasetError(f"manifest name must be a plain file stem, got {name!r}")
    directory = Path(directory)
    target = directory / f"{name}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".json.partial")
        tmp.write_text(json.dumps({"format": MANIFEST_FORMAT, **manifest}, indent=2,
                                  sort_keys=True, default=_jsonable) + "\n")
        tmp.replace(target)
    except OSError as exc:
        raise DatasetError(f"cannot write manifest {target}: {exc.strerror or exc}") from exc
    return target


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Load a manifest written by :func:`write_manifest`, checked against its schema: a
    mapping of format :data:`MANIFEST_FORMAT` whose ``store.checksums`` maps array names to
    sha256 digests. Read through the capped config reader (regular files only — a FIFO
    is refused, not waited on — at most 1 MiB, depth and node limits).

    Raises:
        DatasetError: unreadable, not JSON, or not of that shape (the path named).
    """
    from xrdsim.dataset.checksums import check_checksums
    from xrdsim.errors import ConfigError

    try:
        data = read_config_file(Path(path), what="manifest")
    except ConfigError as exc:
        raise DatasetError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise DatasetError(f"{path} is not an xrdsim manifest (a JSON object with format "
                           f"{MANIFEST_FORMAT!r}); pass the manifest `xrdsim build` wrote")
    store = data.get("store")
    if not isinstance(store, dict):
        raise DatasetError(f"{path}: manifest without a 'store' object; pass the manifest "
                           "`xrdsim build` wrote")
    check_checksums(store.get("checksums"), f"manifest {path}")
    return data


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
