"""Checksums of a dataset store: sha256 of the stored bytes of every array, and verification."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from xrdsim.dataset.shards import (
    PARTIAL_SUFFIX,
    ROW_DIMENSION,
    _array_dirs,
    _shard_file,
    open_store,
)
from xrdsim.errors import DatasetError


def _array_digest(folder: Path) -> str:
    h = hashlib.sha256()
    chunks = folder / "c"
    files = [p for p in chunks.rglob("*") if p.is_file()
             and not p.name.endswith(PARTIAL_SUFFIX)] if chunks.is_dir() else []
    files.sort(key=lambda p: tuple(int(x) for x in p.relative_to(chunks).parts))
    for f in files:
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def array_checksums(path: str | os.PathLike, *, progress: bool = False) -> dict[str, str]:
    """sha256 of the stored (compressed) bytes of every array, keyed by array path.

    Each digest runs over the array's chunk/shard files in shard order (file names
    included), so equal digests mean byte-identical stored data. Metadata
    (``zarr.json``) is excluded. Arrays are hashed on a few threads (hashlib and file
    reads release the GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    from xrdsim.progress import progress_bar

    arrays = _array_dirs(Path(path))
    out: dict[str, str] = {}
    with progress_bar(len(arrays), "checksums", enabled=progress) as bar, \
            ThreadPoolExecutor(max_workers=4) as pool:
        for (key, _), digest in zip(arrays, pool.map(_array_digest,
                                                     [f for _, f in arrays]), strict=True):
            out[key] = digest
            bar.update(1)
    return out


def verify_store(path: str | os.PathLike, expected: Mapping[str, str]) -> list[str]:
    """Arrays whose stored bytes differ from ``expected`` checksums (empty: intact)."""
    got = array_checksums(path)
    return sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))


def missing_shard_files(path: str | os.PathLike) -> list[str]:
    """Shard files every split of a store must hold by its completion records, but lacks.

    A deleted shard file reads back as fill values (NaN patterns, −1 labels) without any
    error from zarr, so readers check its presence before trusting the rows.
    """
    import json

    root = Path(path)
    store = open_store(root)
    missing = []
    complete = store.attrs.get("status") == "complete"
    for split in sorted(store.group_keys()):
        group = store[split]
        if "n_shards" not in group.attrs:
            continue
        shards = range(int(group.attrs["n_shards"])) if complete else \
            [int(i) for i in group.attrs.get("complete_shards", [])]
        for key, folder in _array_dirs(root / split):
            meta = json.loads((folder / "zarr.json").read_text())
            names = meta.get("dimension_names") or [ROW_DIMENSION]
            if names[0] != ROW_DIMENSION:
                continue  # not per pattern (the 2θ coordinate): written once, no shards
            ndim = len(meta["shape"])
            missing += [f"{split}/{key} shard {i}" for i in shards
                        if not _shard_file(folder, ndim, i).is_file()]
    return missing


def verify_store_integrity(path: str | os.PathLike, *,
                           expected: Mapping[str, str] | None = None) -> dict[str, object]:
    """Check a store: every shard file present, every array's bytes equal its checksum.

    Args:
        path: the store.
        expected: ``{array: sha256}`` (a manifest's ``store.checksums``); default the
            checksums the build recorded in the store's ``checksums`` attribute.

    Returns:
        ``{"path", "status", "arrays", "missing": [...], "mismatched": [...], "ok": bool}``.

    Raises:
        DatasetError: not a store, or no checksums to compare with.
    """
    store = open_store(path)
    if expected is None:
        expected = store.attrs.get("checksums")
        if not isinstance(expected, dict) or not expected:
            raise DatasetError(f"{path} records no checksums (built before they were stored, "
                               "or never finished); pass the build manifest (--manifest)")
    missing = missing_shard_files(path)
    mismatched = verify_store(path, expected)
    status = store.attrs.get("status")
    return {"path": str(path), "status": status, "arrays": len(expected), "missing": missing,
            "mismatched": mismatched,
            "ok": not missing and not mismatched and status == "complete"}


def check_store_for_reading(path: str | os.PathLike, *, verify: bool = False) -> None:
    """Refuse a store with missing shard files; with ``verify`` also recompute checksums.

    Raises:
        DatasetError: naming the first missing files / damaged arrays and ``xrdsim verify``.
    """
    if verify:
        report = verify_store_integrity(path)
        bad = report["missing"] + report["mismatched"]
    else:
        bad = missing_shard_files(path)
    if bad:
        raise DatasetError(f"{path} is damaged: {len(bad)} problem(s), e.g. {bad[:3]} (missing "
                           "shard files or bytes that differ from the recorded checksums); "
                           "rebuild it, or run `xrdsim verify` for the full list")
