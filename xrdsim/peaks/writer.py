"""Writing a peak database: an atomic HDF5 writer that appends structures in order.

The file is written to a temporary name beside the target and renamed into place on
a clean close, so a reader never sees a half-written database (layout:
:mod:`xrdsim.peaks.database`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from xrdsim import __version__
from xrdsim.errors import DatabaseError
from xrdsim.parallel import pid_alive
from xrdsim.peaks import database as layout
from xrdsim.peaks.form_factors import SCATTERING_MODEL
from xrdsim.versions import package_versions


class _Appender:
    """Buffers rows of a group's 1-D/2-D datasets and appends them in large blocks."""

    def __init__(self, group: h5py.Group, fields: Mapping[str, tuple[Any, tuple]], chunk: int):
        self._dsets = {}
        self._buffers: dict[str, list] = {name: [] for name in fields}
        self._chunk = chunk
        self._pending = 0
        for name, (dtype, tail) in fields.items():
            opts = {} if dtype is layout.STR_DTYPE else {"shuffle": True}
            self._dsets[name] = group.create_dataset(
                name, shape=(0, *tail), maxshape=(None, *tail), dtype=dtype,
                chunks=(chunk, *tail), compression="gzip",
                compression_opts=layout.GZIP_LEVEL, **opts,
            )

    def add(self, rows: Mapping[str, Any], n: int) -> None:
        for name, value in rows.items():
            self._buffers[name].append(value)
        self._pending += n
        if self._pending >= self._chunk:
            self.flush()

    def flush(self) -> None:
        for name, parts in self._buffers.items():
            if not parts:
                continue
            dset = self._dsets[name]
            if dset.dtype.kind == "O":  # variable-length strings, added as lists
                block = np.array([text for part in parts for text in part], dtype=object)
            else:
                tail = dset.shape[1:]
                block = np.concatenate([np.asarray(p, dtype=dset.dtype).reshape(-1, *tail)
                                        for p in parts])
            start = dset.shape[0]
            dset.resize(start + block.shape[0], axis=0)
            dset[start:] = block
            parts.clear()
        self._pending = 0


class PeakDatabaseWriter:
    """Writes a peak database structure by structure, atomically.

    Use as a context manager: on a clean exit the file is finished and renamed to
    ``path``; on an exception the temporary file is deleted and ``path`` is untouched.

    Args:
        path: the ``.h5`` file to create.
        wavelength: Å. two_theta_range: (min, max) degrees 2θ. symprec: spglib tolerance (Å).
        inputs: the input paths, recorded as an attribute.
        overwrite: replace an existing ``path``; otherwise its existence is an error.
        debye_waller: whether the peaks include the CIF's isotropic B factors.
        u_as_b: whether CIF U columns were read as B (recorded with the scattering model).

    Raises:
        DatabaseError: ``path`` exists without ``overwrite``, or its folder does not exist.
    """

    def __init__(self, path: str | os.PathLike, *, wavelength: float,
                 two_theta_range: tuple[float, float], symprec: float,
                 inputs: Sequence[str] = (), overwrite: bool = False, debye_waller: bool = True,
                 u_as_b: bool = False):
        self.path = Path(path)
        check_output_path(self.path, overwrite=overwrite)
        remove_stale_partials(self.path)
        self._tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        self._file: h5py.File | None = None
        try:  # an interrupt while the file is being laid out must not leave it behind
            self._create(inputs=inputs, wavelength=wavelength, two_theta_range=two_theta_range,
                         symprec=symprec, debye_waller=debye_waller, u_as_b=u_as_b)
        except BaseException:
            self.abort()
            raise
        self._ids: dict[str, str] = {}
        self.n_structures = self.n_errors = self.n_peaks = 0
        self.error_reasons: list[str] = []

    def _create(self, *, inputs, wavelength, two_theta_range, symprec, debye_waller,
                u_as_b) -> None:
        """Create the temporary file: root attributes and empty, growable datasets."""
        try:
            f = self._file = h5py.File(self._tmp, "w")
        except OSError as exc:
            raise DatabaseError(f"cannot create {self._tmp} (for {self.path}): {exc}") from None
        f.attrs.update({
            "format": layout.FORMAT_NAME, "format_version": layout.FORMAT_VERSION,
            "xrdsim_version": __version__,
            "wavelength": float(wavelength), "symprec": float(symprec),
            "two_theta_range": np.asarray(two_theta_range, dtype=np.float64),
            "debye_waller": bool(debye_waller),
            "scattering": json.dumps(SCATTERING_MODEL | {"u_as_b": bool(u_as_b)},
                                     sort_keys=True),
            "package_versions": json.dumps(package_versions(), sort_keys=True),
            "inputs": json.dumps([str(p) for p in inputs]),
        })
        self._peaks = _Appender(f.create_group("peaks"), layout.PEAK_FIELDS, layout.PEAK_CHUNK)
        self._offsets = _Appender(f["peaks"], {"offsets": (np.int64, ())}, layout.TABLE_CHUNK)
        self._offsets.add({"offsets": [0]}, 1)
        table = {name: (dtype, ()) for name, dtype in layout.STRUCTURE_COLUMNS.items()}
        self._table = _Appender(f.create_group("structures"), table, layout.TABLE_CHUNK)
        strings = {"source": (layout.STR_DTYPE, ()), "reason": (layout.STR_DTYPE, ())}
        self._errors = _Appender(f.create_group("errors"), strings, layout.TABLE_CHUNK)

    def add_structure(self, *, structure_id: str, source: str, peaks: Any,
                      labels: Mapping[str, Any], reader: str = "") -> bool:
        """Append one structure; returns False (and records an error) for a duplicate id.

        Args:
            peaks: a PeakList or any object with the arrays of
                :data:`xrdsim.peaks.database.PEAK_FIELDS`.
            labels: every column of :data:`xrdsim.peaks.database.STRUCTURE_COLUMNS` except
                ``structure_id``, ``source``, ``n_peaks`` and ``reader``.
            reader: the path that read the structure (``"fast"`` or ``"pymatgen"``).
        """
        if structure_id in self._ids:
            self.add_error(source, f"duplicate structure id {structure_id!r} (first seen in "
                                   f"{self._ids[structure_id]}); rename one of the inputs")
            return False
        missing = [c for c in layout.LABEL_COLUMNS if c not in labels]
        if missing:
            raise DatabaseError(f"labels of {structure_id!r} lack columns {missing}; "
                                f"expected all of {list(layout.LABEL_COLUMNS)}")
        n = int(np.asarray(peaks.two_theta).shape[0])
        row = {c: labels[c] for c in layout.LABEL_COLUMNS}
        row.update(structure_id=structure_id, source=source, n_peaks=n, reader=reader)
        with self._write_errors():
            self._peaks.add({name: getattr(peaks, name) for name in layout.PEAK_FIELDS}, n)
            self._offsets.add({"offsets": [self.n_peaks + n]}, 1)
            self._table.add({c: [row[c]] for c in layout.STRUCTURE_COLUMNS}, 1)
        self.n_peaks += n
        self._ids[structure_id] = source
        self.n_structures += 1
        return True

    def add_error(self, source: str, reason: str) -> None:
        """Record an input that produced no structure."""
        with self._write_errors():
            self._errors.add({"source": [str(source)], "reason": [str(reason)]}, 1)
        self.error_reasons.append(str(reason))
        self.n_errors += 1

    def close(self) -> Path:
        """Flush, mark complete, and rename the temporary file to ``path``.

        Raises:
            DatabaseError: the file could not be finished (disk full, ...); the temporary
                file is deleted and ``path`` is left as it was.
        """
        with self._write_errors():
            for appender in (self._peaks, self._offsets, self._table, self._errors):
                appender.flush()
            now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            self._file.attrs.update({"created": now, "n_structures": self.n_structures,
                                     "n_errors": self.n_errors, "n_peaks": self.n_peaks})
            self._file.attrs["complete"] = True
            self._file.flush()  # a full disk fails here, on an open file that abort can close
            self._file.close()
            self._file = None
            os.replace(self._tmp, self.path)
        return self.path

    @contextlib.contextmanager
    def _write_errors(self) -> Iterator[None]:
        """Abort on any failure; a failed write (disk full: h5py raises ``OSError`` or
        ``RuntimeError``) becomes one ``DatabaseError`` line."""
        try:
            yield
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (OSError, RuntimeError)):
                raise DatabaseError(f"cannot write {self.path}: {write_failure(exc)}; nothing "
                                    "was written — free space and run again") from None
            raise

    def abort(self) -> None:
        """Close and delete the temporary file; ``path`` is left as it was.

        A close that fails (the disk filled up under HDF5) is not retried: the handle is
        dropped and the temporary file deleted, so nothing half-written stays behind.
        """
        file, self._file = self._file, None
        try:
            if file is not None:
                _discard_writes(file)
            # the datasets close (into /dev/null) when dropped, before the file
            self._peaks = self._offsets = self._table = self._errors = None
            if file is not None:
                with contextlib.suppress(Exception):
                    file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> PeakDatabaseWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_failure(exc: BaseException) -> str:
    """One line for a failed write: the system's reason when there is one (HDF5's own
    messages run over several lines), with the disk-full hint."""
    number = getattr(exc, "errno", None)
    if number is None:
        found = re.search(r"errno = (\d+)", str(exc))
        number = int(found.group(1)) if found else None
    reason = os.strerror(number) if number else " ".join(str(exc).split())[:200]
    return f"{reason} (is the disk full?)"


def _discard_writes(file: h5py.File) -> None:
    """Send every further write of ``file`` (being thrown away) to ``/dev/null``.

    After a failed write (disk full) HDF5 keeps its dirty chunks and metadata and retries
    them whenever a dataset or the file closes — at interpreter exit too, where the second
    failure crashed the process (exit 139). With the file's descriptor pointed at
    ``/dev/null`` those writes succeed into nothing, every close completes and the disk
    space of the (deleted) temporary file is released.
    """
    with contextlib.suppress(Exception):
        handle = int(file.id.get_vfd_handle())
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, handle)
        finally:
            os.close(null)


def remove_stale_partials(path: Path) -> list[Path]:
    """Delete ``.<name>.partial-PID`` files of writers that no longer run (a killed peak
    stage); a live writer's file is kept. Returns the files removed."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.partial-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def check_output_path(path: Path, *, overwrite: bool) -> None:
    """Refuse an existing output without ``overwrite`` and a missing parent folder."""
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder; give a file name such as {path / 'peaks.h5'}")
    if path.exists() and not overwrite:
        raise DatabaseError(f"{path} already exists; pass overwrite=True (--overwrite) "
                            "to replace it or choose another output path")
    if not path.parent.is_dir():
        raise DatabaseError(f"cannot write {path}: folder {path.parent} does not exist")
