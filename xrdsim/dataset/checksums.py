"""Checksums of a dataset store: sha256 of the stored bytes of every array, and verification."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from xrdsim.dataset.shards import PARTIAL_SUFFIX, _array_dirs


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
