"""The sharded Zarr v3 dataset store ("xrdsim-dataset/1", see docs/dataset.md).

This module knows the on-disk layout and nothing about simulation: create the
groups and empty arrays, write the rows of one shard of every array of a split,
record which shards are complete and open the root group. Row layout and encoding:
:mod:`xrdsim.dataset.layout`; reading (only rows of complete shards):
:mod:`xrdsim.dataset.reading`; checksums: :mod:`xrdsim.dataset.checksums`.

Atomicity. zarr's ``LocalStore`` writes every object (a shard file, a
``zarr.json``) to a temporary ``*.partial`` file and renames it into place, so a
reader sees a shard file either whole or absent. A shard of a split is one file
per array, written by one work unit; the split's ``complete_shards`` attribute
lists a shard only after all of its files are in place, and only the builder
process (never a worker) rewrites it. A reader must trust only those rows
(:func:`open_split` enforces it); rows of unwritten shards read as the fill
values (NaN patterns, −1 labels).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr
import zarr.api.asynchronous as zasync
from zarr.core.sync import sync

from xrdsim.dataset.codec import _direct_writer, as_stored, encode_full_shard
from xrdsim.dataset.layout import ShardLayout, StoreEncoding
from xrdsim.errors import DatasetError
from xrdsim.grid import N_BINS, grid_centers
from xrdsim.outputs import output_format

#: The ``format`` attribute of the root group.
FORMAT = "xrdsim-dataset/1"
#: Per-pattern label arrays of every split and their dtypes (fill value −1).
LABEL_DTYPES: dict[str, str] = {
    "space_group": "int16",
    "crystal_system": "int8",
    "extinction_group": "int16",
    "structure_index": "int32",
    "view": "int16",
}
#: Coordinate array of every split group: the (12000,) bin centres in degrees 2θ, so
#: ``xarray.open_zarr(store, group=split)`` labels the patterns' second axis.
COORDINATE = "two_theta"
#: Dimension name of the rows (one per pattern) of every per-pattern array; arrays along it
#: are written shard by shard, the others (the 2θ coordinate) once at creation.
ROW_DIMENSION = "pattern"
#: Suffix of the temporary files zarr's LocalStore renames into place.
PARTIAL_SUFFIX = ".partial"


def _array_kwargs(*, n: int, width: int | None, dtype: str, layout: ShardLayout,
                  encoding: StoreEncoding, fill: Any) -> dict[str, Any]:
    if width is None:
        # Per-pattern scalars: one plain chunk per shard (a few KiB), no inner chunks —
        # same files per work unit, without ~4 tiny encodes per array per shard.
        shape, chunks, shards, dims = (n,), (layout.shard_size,), None, (ROW_DIMENSION,)
    else:
        shape, chunks = (n, width), (layout.chunk_size, width)
        shards, dims = (layout.shard_size, width), (ROW_DIMENSION, COORDINATE)
    # write_empty_chunks: every shard file exists once written (resume / checksums rely
    # on it), and zarr skips its costly all-equal-to-fill scan of every chunk.
    return dict(shape=shape, chunks=chunks, shards=shards, dtype=dtype,
                compressors=encoding.compressors(), fill_value=fill, dimension_names=dims,
                config={"write_empty_chunks": True})


async def _gather(coroutines: Iterable[Any]) -> list[Any]:
    """Run coroutines concurrently on zarr's event loop (call through ``sync``)."""
    return await asyncio.gather(*coroutines)


async def _gather_settled(coroutines: Iterable[Any]) -> list[Any]:
    """Like :func:`_gather`, but every coroutine runs to its end; exceptions are returned."""
    return await asyncio.gather(*coroutines, return_exceptions=True)


async def _create_split(root: Any, name: str, layout: ShardLayout, attrs: Mapping[str, Any],
                        param_names: Iterable[str], encoding: StoreEncoding) -> None:
    group = await root.create_group(name, attributes=dict(attrs))
    params = await group.create_group("params")
    n = layout.n_patterns
    jobs = [group.create_array("patterns", **_array_kwargs(
        n=n, width=N_BINS, dtype=encoding.dtype, layout=layout, encoding=encoding,
        fill=np.nan))]
    jobs += [group.create_array(label, **_array_kwargs(
        n=n, width=None, dtype=dtype, layout=layout, encoding=encoding, fill=-1))
        for label, dtype in LABEL_DTYPES.items()]
    jobs += [params.create_array(pname, **_array_kwargs(
        n=n, width=None, dtype="float32", layout=layout, encoding=encoding, fill=np.nan))
        for pname in param_names]
    await asyncio.gather(*jobs)  # one event-loop round trip instead of one per array


def create_store(
    path: str | os.PathLike,
    *,
    attrs: Mapping[str, Any],
    structures: Mapping[str, np.ndarray],
    splits: Mapping[str, tuple[ShardLayout, Mapping[str, Any]]],
    param_names: Mapping[str, Iterable[str]],
    encoding: StoreEncoding,
) -> zarr.Group:
    """Create an empty store: root attrs (status "building"), structures, split groups.

    Args:
        path: folder of the new store; must not exist.
        attrs: root attributes (``format`` and ``status`` are set here).
        structures: columns of the structure table, each (S,) (strings or numbers).
        splits: ``{name: (layout, group attrs)}``.
        param_names: ``{split: dotted names of the parameters its config samples}``.
        encoding: pattern dtype and compressor.

    Raises:
        DatasetError: if ``path`` exists or cannot be written.
    """
    path = Path(path)
    if path.exists():
        raise DatasetError(f"{path} already exists; pass overwrite or resume")
    # built under a temporary name and renamed: a kill leaves either no store or a whole
    # one, never a store without format or split groups (the caller holds the store lock,
    # so any earlier temporary folder is a killed creation's)
    for stale in path.parent.glob(f".{path.name}.creating-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final, path = path, path.with_name(f".{path.name}.creating-{os.getpid()}")
    try:
        root = zarr.open_group(str(path), mode="w-", zarr_format=3)
        root.attrs.update({**attrs, "format": FORMAT, "status": "building"})
        table = root.create_group("structures")
        for name, column in structures.items():
            column = np.asarray(column)
            dtype = str if column.dtype.kind in "OUS" else column.dtype
            arr = table.create_array(name, shape=column.shape, chunks=(max(1, len(column)),),
                                     dtype=dtype, dimension_names=("structure",))
            if len(column):
                arr[:] = column
        jobs = [_create_split(root._async_group, name, layout,
                              {**group_attrs, "n_patterns": layout.n_patterns,
                               "shard_size": layout.shard_size, "chunk_size": layout.chunk_size,
                               "n_shards": layout.n_shards, "complete_shards": []},
                              param_names[name], encoding)
                for name, (layout, group_attrs) in splits.items()]
        # wait for every split, failed or not, before cleaning up after a failure
        failed = [r for r in sync(_gather_settled(jobs)) if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        for name in splits:
            write_two_theta(root[name])
        os.rename(path, final)
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise DatasetError(_os_message(exc, final)) from exc
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    return zarr.open_group(str(final), mode="r+")


def write_two_theta(group: zarr.Group) -> None:
    """Add the :data:`COORDINATE` array (bin centres, degrees 2θ) to ``group``."""
    coord = group.create_array(COORDINATE, shape=(N_BINS,), chunks=(N_BINS,), dtype="float64",
                               dimension_names=(COORDINATE,))
    coord[:] = grid_centers()
    coord.attrs.update({"units": "degree", "long_name": "2θ (bin centre)"})


def layout_of(group: zarr.Group) -> ShardLayout:
    """The :class:`ShardLayout` recorded in a split group's attributes."""
    a = group.attrs
    return ShardLayout(int(a["n_patterns"]), int(a["shard_size"]), int(a["chunk_size"]))


def _put_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a ``*.partial`` temporary and a rename (as zarr)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


#: Open arrays of a split, per process: ``(store, split, identity of the split's
#: patterns metadata) -> (layout, {name: AsyncArray})``. Array metadata never changes
#: after creation; a store deleted and re-created has a new identity.
_OPEN_SPLITS: dict[tuple, tuple[ShardLayout, dict[str, Any]]] = {}


async def _open_split_arrays(path: str, split: str) -> tuple[ShardLayout, dict[str, Any]]:
    group = await zasync.open_group(store=path, path=split, mode="r+")
    layout = layout_of(group)
    params = await group.getitem("params")
    names = ["patterns", *LABEL_DTYPES]
    names += [f"params/{k}" async for k in params.array_keys()]
    arrays = await asyncio.gather(*(group.getitem(n) for n in names))
    return layout, {n: (a, _direct_writer(a)) for n, a in zip(names, arrays, strict=True)}


def _split_arrays(path: str, split: str) -> tuple[ShardLayout, dict[str, Any]]:
    meta = os.stat(os.path.join(path, split, "patterns", "zarr.json"))
    key = (os.path.abspath(path), split, meta.st_ino, meta.st_mtime_ns)
    if key not in _OPEN_SPLITS:
        _OPEN_SPLITS[key] = sync(_open_split_arrays(path, split))
    return _OPEN_SPLITS[key]


def write_shard(path: str | os.PathLike, split: str, shard_index: int,
                arrays: Mapping[str, np.ndarray]) -> dict[str, bytes | None]:
    """Write every row of shard ``shard_index`` of every array of ``split``.

    Each array's shard is encoded whole and lands as one file, written to a temporary
    and renamed into place. A full shard of the store's own codec chains is encoded
    by xrdsim (:func:`encode_full_shard`, byte-identical to zarr, tested); anything
    else (a short last shard, other codecs) goes through zarr, all arrays in one
    event-loop call.

    Args:
        path: the store.
        split: split group name.
        shard_index: which shard.
        arrays: ``patterns`` (n, 12000), every name of :data:`LABEL_DTYPES` (n,), and
            ``params/<name>`` (n,) for every parameter array of the split, with
            ``n`` the rows of the shard. Missing or extra names are refused.

    Returns:
        ``{array name: the bytes of its shard file}``, None for files zarr wrote (their
        bytes are not at hand) — what :class:`xrdsim.dataset.checksums.StoreDigests`
        hashes without reading the files back.

    Raises:
        DatasetError: wrong names or row counts, or an OS error (disk full,
            permission) — the shard stays unrecorded, so ``resume`` redoes it.
    """
    try:
        layout, targets = _split_arrays(str(path), split)
        start, stop = layout.rows(shard_index)
        if set(arrays) != set(targets):
            raise DatasetError(
                f"shard {shard_index} of {split!r}: arrays {sorted(arrays)} do not match the "
                f"store's {sorted(targets)}")
        values = {}
        for name in targets:
            values[name] = np.asarray(arrays[name])
            if values[name].shape[0] != stop - start:
                raise DatasetError(f"shard {shard_index} of {split!r}: {name} has "
                                   f"{values[name].shape[0]} rows, the shard has {stop - start}")
        via_zarr, written = [], {}
        for name, (target, direct) in targets.items():
            if (direct is None or stop - start != layout.shard_size
                    or direct[3] != layout.shard_size):
                via_zarr.append(target.setitem(slice(start, stop),
                                               as_stored(values[name], target.dtype)))
                written[name] = None
                continue
            if direct[0] == "shard":  # cast chunk by chunk inside the encoder
                data = encode_full_shard(values[name], direct[2], direct[1], target.dtype)
            else:  # one plain chunk = the shard's rows: bytes(little) -> blosc
                data = direct[1].encode(as_stored(values[name], target.dtype))
            _put_atomic(shard_path(path, split, name, shard_index), data)
            written[name] = data
        if via_zarr:
            sync(_gather(via_zarr))
        return written
    except OSError as exc:
        raise DatasetError(_os_message(exc, Path(path))) from exc


def shard_path(path: str | os.PathLike, split: str, name: str, shard_index: int) -> Path:
    """The file of shard ``shard_index`` of array ``name`` (e.g. ``params/x``) of ``split``."""
    ndim = 2 if name == "patterns" else 1
    return _shard_file(Path(path, split, *name.split("/")), ndim, shard_index)


def _os_message(exc: OSError, path: Path) -> str:
    what = exc.strerror or str(exc)
    return (f"cannot write the dataset store {path}: {what} ({exc.filename or path}). "
            "Completed shards are safe; free disk space or fix permissions, then rerun "
            "with resume=True (CLI: the same command with --resume).")


def complete_shards(group: zarr.Group) -> list[int]:
    """Shard indices of a split group recorded as complete."""
    return sorted(int(i) for i in group.attrs.get("complete_shards", []))


def record_complete(path: str | os.PathLike, split: str, shard_indices: Iterable[int]) -> None:
    """Add shards to the split's completion record (one atomic ``zarr.json`` rewrite)."""
    try:
        group = zarr.open_group(str(path), path=split, mode="r+")
        done = set(complete_shards(group)) | {int(i) for i in shard_indices}
        group.attrs["complete_shards"] = sorted(done)
    except OSError as exc:
        raise DatasetError(_os_message(exc, Path(path))) from exc


def finalize_store(path: str | os.PathLike, attrs: Mapping[str, Any]) -> None:
    """Mark a store complete (status "complete") once every shard of every split is.

    Raises:
        DatasetError: if some split still has unrecorded shards.
    """
    root = open_store(path, mode="r+")
    for name in root.group_keys():
        group = root[name]
        if "complete_shards" in group.attrs:
            missing = layout_of(group).n_shards - len(complete_shards(group))
            if missing:
                raise DatasetError(f"split {name!r} of {path} still lacks {missing} shard(s)")
    try:
        root.attrs.update({**attrs, "status": "complete"})
    except OSError as exc:
        raise DatasetError(_os_message(exc, Path(path))) from exc


def _array_dirs(path: Path) -> list[tuple[str, Path]]:
    """``(key, folder)`` of every array under the store, sorted by key."""
    out = []
    for meta in sorted(path.rglob("zarr.json")):
        folder = meta.parent
        if '"node_type": "array"' in meta.read_text():
            out.append((folder.relative_to(path).as_posix(), folder))
    return sorted(out)


def _shard_file(folder: Path, ndim: int, shard_index: int) -> Path:
    return folder.joinpath("c", str(shard_index), *(["0"] * (ndim - 1)))


def discard_shard(path: str | os.PathLike, split: str, shard_index: int) -> None:
    """Delete every file of one (unrecorded) shard of ``split``, so it is rewritten whole."""
    root = Path(path)
    for key, folder in _array_dirs(root / split):
        if key == COORDINATE:  # written once at creation, not per shard
            continue
        ndim = 2 if key == "patterns" else 1
        _shard_file(folder, ndim, shard_index).unlink(missing_ok=True)


def remove_partial_files(path: str | os.PathLike) -> int:
    """Delete leftover ``*.partial`` temporaries of a killed writer; returns how many."""
    n = 0
    for tmp in Path(path).rglob(f"*{PARTIAL_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        n += 1
    return n


def remove_store(path: str | os.PathLike) -> None:
    """Delete a store folder (for ``overwrite``); refuses a folder that is not one."""
    path = Path(path)
    if not path.exists():
        return
    if path.is_symlink() or output_format(path) != FORMAT:
        raise DatasetError(
            f"{path} exists but is not an xrdsim dataset store (no {FORMAT!r} in its root "
            "zarr.json); refusing to delete it — pick another output path")
    shutil.rmtree(path)


def open_store(path: str | os.PathLike, *, mode: str = "r") -> zarr.Group:
    """Open the root group of an xrdsim store (any status).

    Raises:
        DatasetError: missing path or not an xrdsim store.
    """
    try:
        root = zarr.open_group(str(path), mode=mode)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as exc:
        raise DatasetError(f"no Zarr dataset store at {path}") from exc
    except Exception as exc:  # noqa: BLE001 - truncated or foreign zarr.json: zarr raises many kinds
        raise DatasetError(f"{path}: unreadable store metadata ({type(exc).__name__}: "
                           f"{' '.join(str(exc).split())[:160]}); the store is damaged — "
                           "rebuild it") from None
    if root.attrs.get("format") != FORMAT:
        raise DatasetError(
            f"{path} is not an xrdsim dataset (format {root.attrs.get('format')!r}, "
            f"expected {FORMAT!r})")
    return root
