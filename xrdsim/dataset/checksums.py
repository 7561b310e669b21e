"""Checksums of a dataset store: sha256 of the stored bytes of every array, and verification."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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
        _feed(h, folder, f, None)
    return h.hexdigest()


def _feed(h: Any, folder: Path, file: Path, data: bytes | None) -> None:
    """Hash one stored file: its path below the array folder, then its bytes
    (``data`` if given — the bytes just written — else read from ``file``)."""
    h.update(file.relative_to(folder).as_posix().encode())
    h.update(file.read_bytes() if data is None else data)


def _row_dimension(folder: Path) -> tuple[bool, int]:
    """(is the array per pattern, its ndim), from its ``zarr.json``."""
    meta = json.loads((folder / "zarr.json").read_text())
    names = meta.get("dimension_names") or [ROW_DIMENSION]
    return names[0] == ROW_DIMENSION, len(meta["shape"])


class StoreDigests:
    """The checksums of :func:`array_checksums`, computed while the shards are written.

    sha256 cannot be assembled from parts, so each array's digest takes its shard files
    in shard order, as :func:`array_checksums` reads them. :meth:`add` takes one shard
    of a split — the bytes the writer just wrote, or None per file to read from disk
    (written by a worker process, by zarr, or by the run being resumed); a shard that
    comes before its predecessors waits (bytes kept) until they are in. In-process
    builds add shards in order, so nothing waits there and no byte is read back.
    :meth:`hexdigests` hashes the arrays written at creation (structure table, 2θ
    coordinate) and returns what :func:`array_checksums` would (tested equal).

    Args:
        path: the store (created, split groups in place).
        done: ``{split: shard indices already complete}`` (resume): read from disk.
    """

    def __init__(self, path: str | os.PathLike, *, done: Mapping[str, Iterable[int]]) -> None:
        self._path = Path(path)
        self._rows: dict[str, list[tuple[str, Path, int]]] = {}  # split -> (name, folder, ndim)
        self._other: list[tuple[str, Path]] = []
        for key, folder in _array_dirs(self._path):
            per_row, ndim = _row_dimension(folder)
            split, _, name = key.partition("/")
            if per_row and split in done:
                self._rows.setdefault(split, []).append((name, folder, ndim))
            else:
                self._other.append((key, folder))
        self._hash = {f"{s}/{name}": hashlib.sha256() for s, arrays in self._rows.items()
                      for name, _, _ in arrays}
        store = open_store(self._path)
        self._n_shards = {s: int(store[s].attrs["n_shards"]) for s in done}
        self._next = dict.fromkeys(done, 0)
        self._waiting: dict[str, dict[int, Mapping[str, bytes | None]]] = {
            s: dict.fromkeys((int(i) for i in shards), {}) for s, shards in done.items()}

    def add(self, split: str, shard: int, written: Mapping[str, bytes | None]) -> None:
        """Shard ``shard`` of ``split`` is in place; ``written`` maps array names to the
        bytes of their files (missing or None: read the file)."""
        self._waiting[split][int(shard)] = written
        self._advance(split)

    def _advance(self, split: str) -> None:
        """Hash the waiting shards of ``split`` that follow the last one hashed."""
        while self._next[split] in self._waiting[split]:
            data = self._waiting[split].pop(self._next[split])
            for name, folder, ndim in self._rows.get(split, []):
                file = _shard_file(folder, ndim, self._next[split])
                if data.get(name) is not None or file.is_file():
                    _feed(self._hash[f"{split}/{name}"], folder, file, data.get(name))
            self._next[split] += 1

    def hexdigests(self) -> dict[str, str]:
        """``{array key: sha256}`` of every array, sorted by key (= :func:`array_checksums`).

        Raises:
            DatasetError: a shard of some split was never added (digest incomplete).
        """
        for split in self._next:
            self._advance(split)  # a resumed store with nothing left to write
            if self._next[split] != self._n_shards[split]:
                raise DatasetError(
                    f"checksums of {self._path}: split {split!r} has {self._n_shards[split]} "
                    f"shards, only the first {self._next[split]} were hashed; run "
                    "`xrdsim build ... --resume` to finish the store")
        out = {key: h.hexdigest() for key, h in self._hash.items()}
        out.update({key: _array_digest(folder) for key, folder in self._other})
        return dict(sorted(out.items()))


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
            per_row, ndim = _row_dimension(folder)
            if not per_row:
                continue  # not per pattern (the 2θ coordinate): written once, no shards
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
