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

#: Largest array ``zarr.json`` read (a real one is < 2 KB); a bigger one is damage.
MAX_ARRAY_METADATA_BYTES = 1 << 20
#: Suffix of the checksum key of an array's metadata: ``train/patterns/zarr.json``.
METADATA_KEY = "/zarr.json"


def _chunk_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(chunk files of an array in chunk order, stray files): a file whose path below
    ``c/`` is not all integers (``.DS_Store``, ``0.bak``) is stray — listed, never hashed,
    never a crash."""
    chunks = folder / "c"
    if not chunks.is_dir():
        return [], []
    files, strays = [], []
    for p in chunks.rglob("*"):
        if p.is_dir() or p.name.endswith(PARTIAL_SUFFIX):
            continue
        parts = p.relative_to(chunks).parts
        (files if p.is_file() and all(x.isdigit() for x in parts) else strays).append(p)
    files.sort(key=lambda p: tuple(int(x) for x in p.relative_to(chunks).parts))
    return files, sorted(strays)


def _array_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in _chunk_files(folder)[0]:
        _feed(h, folder, f, None)
    return h.hexdigest()


def _metadata_digest(folder: Path) -> str:
    """sha256 of an array's ``zarr.json`` (shape, dtype, codecs: flipping the codec's byte
    order turns every value to garbage while the chunk bytes stay the same)."""
    meta = folder / "zarr.json"
    try:
        if not meta.is_file() or meta.stat().st_size > MAX_ARRAY_METADATA_BYTES:
            return "unreadable"
        return hashlib.sha256(meta.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def metadata_checksums(path: str | os.PathLike) -> dict[str, str]:
    """``{"<array>/zarr.json": sha256}`` of the metadata of every array of the store."""
    return {key + METADATA_KEY: _metadata_digest(folder)
            for key, folder in _array_dirs(Path(path))}


def stray_files(path: str | os.PathLike) -> list[str]:
    """Files in the chunk folders of a store that are no chunk (not hashed, not read)."""
    root = Path(path)
    return [p.relative_to(root).as_posix() for _, folder in _array_dirs(root)
            for p in _chunk_files(folder)[1]]


def _feed(h: Any, folder: Path, file: Path, data: bytes | None) -> None:
    """Hash one stored file: its path below the array folder, then its bytes
    (``data`` if given — the bytes just written — else read from ``file``)."""
    h.update(file.relative_to(folder).as_posix().encode())
    h.update(file.read_bytes() if data is None else data)


def _row_dimension(folder: Path) -> tuple[bool, int]:
    """(is the array per pattern, its ndim), from its ``zarr.json``.

    Raises:
        DatasetError: the ``zarr.json`` is unreadable, truncated or not an array's.
    """
    meta_path = folder / "zarr.json"
    try:
        if meta_path.stat().st_size > MAX_ARRAY_METADATA_BYTES:
            raise ValueError("too large")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        names = meta.get("dimension_names") or [ROW_DIMENSION]
        return names[0] == ROW_DIMENSION, len(meta["shape"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise DatasetError(f"{meta_path}: unreadable array metadata ({type(exc).__name__}); "
                           "the store is damaged — rebuild it") from None


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
        out.update(metadata_checksums(self._path))
        return dict(sorted(out.items()))


def array_checksums(path: str | os.PathLike, *, progress: bool = False) -> dict[str, str]:
    """sha256 of the stored (compressed) bytes of every array, keyed by array path.

    Each digest runs over the array's chunk/shard files in shard order (file names
    included), so equal digests mean byte-identical stored data; each array's
    ``zarr.json`` has its own digest (key ``<array>/zarr.json``). Stray files in chunk
    folders are not hashed (:func:`stray_files` lists them). Arrays are hashed on a few
    threads (hashlib and file reads release the GIL).
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
    out.update(metadata_checksums(path))
    return dict(sorted(out.items()))


def verify_store(path: str | os.PathLike, expected: Mapping[str, str]) -> list[str]:
    """Arrays (and array metadata) whose stored bytes differ from ``expected`` checksums
    (empty: intact). Checksums recorded before metadata had digests hold no
    ``…/zarr.json`` keys; their metadata is then not compared."""
    got = array_checksums(path)
    if not any(k.endswith(METADATA_KEY) for k in expected):
        got = {k: v for k, v in got.items() if not k.endswith(METADATA_KEY)}
    return sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))


def check_checksums(expected: Any, source: str) -> dict[str, str]:
    """``expected`` as ``{array key: 64-hex sha256}``, or ``DatasetError`` naming ``source``
    (a manifest's or the store's ``checksums`` of the wrong shape)."""
    if not isinstance(expected, dict) or not expected or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64
            and all(c in "0123456789abcdef" for c in v) for k, v in expected.items()):
        raise DatasetError(f"{source}: checksums must be a non-empty mapping of array names "
                           "to sha256 hex digests; pass the manifest the build wrote")
    return expected


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
            try:
                per_row, ndim = _row_dimension(folder)
            except DatasetError:
                missing.append(f"{split}/{key}/zarr.json (unreadable)")
                continue
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
        expected = check_checksums(expected, f"{path} (its checksums attribute)")
    missing = missing_shard_files(path)
    mismatched = verify_store(path, expected)
    status = store.attrs.get("status")
    return {"path": str(path), "status": status,
            "arrays": sum(not k.endswith(METADATA_KEY) for k in expected), "missing": missing,
            "mismatched": mismatched, "stray": stray_files(path),
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
        bad = missing_shard_files(path) + _small_arrays_changed(path)
    if bad:
        raise DatasetError(f"{path} is damaged: {len(bad)} problem(s), e.g. {bad[:3]} (missing "
                           "shard files or bytes that differ from the recorded checksums); "
                           "rebuild it, or run `xrdsim verify` for the full list")


def _small_arrays_changed(path: str | os.PathLike) -> list[str]:
    """Arrays that are not per pattern (structure table, 2θ coordinate) and array metadata
    that differ from the store's recorded checksums: cheap to hash at every open, and a
    deleted structure-table chunk reads back as fill values (every structure "train")."""
    expected = open_store(path).attrs.get("checksums")
    if not isinstance(expected, dict) or not expected:
        return []
    root = Path(path)
    got = {}
    for key, folder in _array_dirs(root):
        try:
            per_row = _row_dimension(folder)[0]
        except DatasetError:
            per_row = False
        if not per_row:
            got[key] = _array_digest(folder)
    if any(k.endswith(METADATA_KEY) for k in expected):
        got.update(metadata_checksums(root))
    return sorted(k for k, v in got.items() if k in expected and expected[k] != v
                  or k not in expected and k.endswith(METADATA_KEY))
