"""The HDF5 peak database: layout and reader (the writer is :mod:`xrdsim.peaks.writer`).

One file holds the Bragg peaks and labels of many structures (layout version 3)::

    /peaks/two_theta      (P,)   float64  degrees 2θ, ascending within a structure
    /peaks/intensity      (P,)   float64  scaled so each structure's strongest line is 100
    /peaks/intensity_raw  (P,)   float64  unscaled |F|²·LP·multiplicity
    /peaks/d              (P,)   float64  Å
    /peaks/hkl            (P, 3) int32    one representative Miller index per line, in the
                                          standardised cell of /structures/a … gamma
    /peaks/multiplicity   (P,)   int32
    /peaks/offsets        (S+1,) int64    structure i owns rows offsets[i]:offsets[i+1]
    /structures/<column>  (S,)   one dataset per label column (see STRUCTURE_COLUMNS)
    /errors/source, /errors/reason  (E,) UTF-8 strings: inputs that produced no peaks

Root attributes: ``format``, ``format_version``, ``xrdsim_version``, ``wavelength`` (Å),
``two_theta_range`` (degrees), ``symprec`` (Å), ``debye_waller``, ``package_versions``
and ``inputs`` (JSON), ``created`` (ISO 8601 UTC), the counts, and ``complete`` (set
last). The writer (:class:`xrdsim.peaks.writer.PeakDatabaseWriter`, driven by
:mod:`xrdsim.peaks.job`) fills a temporary file beside the target and
renames it into place only when everything is written, so an interrupted run never
leaves a file that looks complete.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from xrdsim import __version__
from xrdsim.errors import DatabaseError

FORMAT_NAME = "xrdsim-peak-database"
FORMAT_VERSION = 3
#: First version whose /peaks/hkl index the lines in the cell of the structure table
#: (earlier files index them in the cell as read from the CIF, often a primitive one).
STANDARD_HKL_VERSION = 3
#: Structure columns added after version 1, with the value a version-1 file reads as.
ADDED_COLUMNS = {"reader": ""}

STR_DTYPE = h5py.string_dtype("utf-8")
#: Peak arrays: name -> (dtype, trailing shape).
PEAK_FIELDS: dict[str, tuple[Any, tuple[int, ...]]] = {
    "two_theta": (np.float64, ()),
    "intensity": (np.float64, ()),
    "intensity_raw": (np.float64, ()),
    "d": (np.float64, ()),
    "hkl": (np.int32, (3,)),
    "multiplicity": (np.int32, ()),
}
#: Structure-table columns: name -> dtype (variable-length UTF-8 for strings).
#: ``declared_space_group`` is 0 when the CIF declares none; ``elements`` is the
#: space-separated, sorted element symbols ("Li Mn O"); ``reader`` names the path that
#: read the structure: ``"fast"`` (:mod:`xrdsim.structures.fast_cif`) or ``"pymatgen"``.
STRUCTURE_COLUMNS: dict[str, Any] = {
    "structure_id": STR_DTYPE, "source": STR_DTYPE, "formula": STR_DTYPE, "elements": STR_DTYPE,
    "space_group": np.int16, "space_group_symbol": STR_DTYPE, "crystal_system": np.int8,
    "extinction_group": np.int16, "extinction_symbol": STR_DTYPE, "laue_class": STR_DTYPE,
    "bravais_lattice": STR_DTYPE, "a": np.float64, "b": np.float64, "c": np.float64,
    "alpha": np.float64, "beta": np.float64, "gamma": np.float64,
    "declared_space_group": np.int16, "num_sites": np.int32, "n_peaks": np.int32,
    "reader": STR_DTYPE,
}
#: Columns the writer takes from a structure's labels (the rest it fills itself).
LABEL_COLUMNS = tuple(
    c for c in STRUCTURE_COLUMNS if c not in ("structure_id", "source", "n_peaks", "reader")
)

#: Rows per HDF5 chunk of the peak arrays: 16,384 float64 = 128 KiB (~100 structures),
#: big enough for gzip and for contiguous batch reads, small enough that a random
#: read of one structure decompresses little.
PEAK_CHUNK = 16_384
#: Rows per chunk of the structure and error tables.
TABLE_CHUNK = 8_192
#: gzip level of every dataset (plain HDF5 filter, readable by any HDF5 tool).
GZIP_LEVEL = 4
#: Chunk cache per open dataset of the reader, so batched random reads of nearby
#: structures do not decompress the same chunk twice.
READ_CACHE_BYTES = 64 * 1024 * 1024
#: ``PeakDatabase(preload=None)`` keeps two_theta and intensity in memory up to this
#: size (256 MiB = 16.8 million peaks, ~100,000 MP-20-like structures): a random batch
#: from memory is a NumPy gather, ~5–10× faster than slices of the HDF5 file.
PRELOAD_AUTO_BYTES = 256 * 1024 * 1024
#: Peak fields a preloaded database keeps in memory once a batch asks for them.
PRELOADABLE = ("two_theta", "intensity", "hkl", "intensity_raw")
#: Wanted row ranges closer than this many rows are read with one slice: copying a
#: few thousand unneeded rows (16 KiB) costs less than another h5py call (~10–40 µs).
MERGE_GAP_ROWS = 2048

#: The variable parts of a failure reason: a quoted name, or a number standing alone
#: (digits inside names and paths, ``Li2O_225.cif``, are kept).
_VARIABLE = re.compile(r"('[^']*'|\"[^\"]*\"|(?<![\w./])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
                       r"(?![\w/]))")


@dataclass(frozen=True)
class PeakBatch:
    """Peaks of several structures in ragged form.

    Attributes:
        indices: (B,) int64 structure indices, in the order asked for.
        two_theta: (P,) float64 degrees 2θ, the B peak lists concatenated.
        intensity: (P,) float64 on the 0–100 scale, aligned with ``two_theta``.
        offsets: (B+1,) int64; structure ``indices[k]`` owns ``offsets[k]:offsets[k+1]``.
        hkl: (P, 3) int32 representative Miller indices when asked for (``ragged(...,
            hkl=True)``), else None.
    """

    indices: np.ndarray
    two_theta: np.ndarray
    intensity: np.ndarray
    offsets: np.ndarray
    hkl: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def _gather_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Row numbers ``concat(arange(s, s+n) for s, n in zip(starts, lengths))``, vectorised."""
    total = int(lengths.sum())
    out_starts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - out_starts, lengths)


class PeakDatabase:
    """Reader of a peak database, by index, by structure id, or in ragged batches.

    Usable as a context manager or plainly (the file is closed on :meth:`close` or
    garbage collection). Picklable: a copy re-opens the file in its own process, so
    one instance can be handed to DataLoader / dask workers.

    Args:
        path: an ``.h5`` file written by :func:`xrdsim.write_peak_database`.
        preload: keep ``two_theta`` and ``intensity`` of all structures in memory
            (16 bytes per peak, read on the first :meth:`ragged` call) so batches are a
            NumPy gather. ``None`` (default): preload when they take at most
            :data:`PRELOAD_AUTO_BYTES`.

    Raises:
        DatabaseError: missing file, not HDF5, not a peak database, a newer format
            version, an interrupted write, or inconsistent offsets.
    """

    def __init__(self, path: str | os.PathLike, *, preload: bool | None = None):
        self.path = Path(path)
        self._preload = preload
        self._file: h5py.File | None = None
        self._pid = -1
        f = self._h5()
        self._offsets = f["peaks/offsets"][()]
        self._check_offsets(f)
        self._labels: dict[str, np.ndarray] | None = None
        self._index: dict[str, int] | None = None
        self._memory: dict[str, np.ndarray] | None = None
        if self._preload is None:
            self._preload = 16 * int(self._offsets[-1]) <= PRELOAD_AUTO_BYTES

    # ---- file handling -------------------------------------------------------------
    def _h5(self) -> h5py.File:
        if self._file is not None and self._pid == os.getpid():
            return self._file
        if not self.path.is_file():
            raise DatabaseError(f"no peak database at {self.path}: file does not exist; "
                                "create one with `xrdsim peaks INPUT... -o FILE`")
        try:
            f = h5py.File(self.path, "r", rdcc_nbytes=READ_CACHE_BYTES, rdcc_nslots=100_003)
        except OSError as exc:
            raise DatabaseError(f"{self.path} is not a readable HDF5 file (truncated or "
                                f"corrupt?): {exc}") from None
        _validate(f, self.path)
        # keep the datasets open: HDF5's chunk cache lives and dies with an open dataset
        self._dsets = {k: f["peaks"][k] for k in PEAK_FIELDS}
        self._file, self._pid = f, os.getpid()
        return f

    def _check_offsets(self, f: h5py.File) -> None:
        off = self._offsets
        n_rows = f["peaks/two_theta"].shape[0]
        n_table = f["structures/structure_id"].shape[0]
        if (off.ndim != 1 or off.shape[0] != n_table + 1 or off[0] != 0
                or off[-1] != n_rows or np.any(np.diff(off) < 0)):
            raise DatabaseError(f"{self.path} is corrupt: /peaks/offsets (shape {off.shape}) "
                                f"does not index {n_rows} peak rows of {n_table} structures")

    def close(self) -> None:
        """Close the HDF5 file (a later access re-opens it)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._dsets = {}

    def __enter__(self) -> PeakDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"], state["_pid"], state["_dsets"] = None, -1, {}
        # the receiver re-reads peaks and labels when it needs them: a pickle stays small
        state["_memory"] = state["_labels"] = state["_index"] = None
        return state

    def __len__(self) -> int:
        return int(self._offsets.shape[0] - 1)

    def __repr__(self) -> str:
        return f"PeakDatabase({str(self.path)!r}, structures={len(self)})"

    # ---- tables --------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        """Settings and provenance: wavelength (Å), two_theta_range (°), symprec, versions..."""
        raw = dict(self._h5().attrs)
        out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in raw.items()}
        out["two_theta_range"] = tuple(float(x) for x in raw["two_theta_range"])
        out["package_versions"] = json.loads(raw["package_versions"])
        out["inputs"] = json.loads(raw["inputs"])
        return out

    @property
    def labels(self) -> dict[str, np.ndarray]:
        """The structure table: column -> (S,) array (strings as object arrays)."""
        if self._labels is None:
            group = self._h5()["structures"]
            n = group["structure_id"].shape[0]
            self._labels = {
                c: (np.full(n, ADDED_COLUMNS[c], dtype=object) if c not in group
                    else group[c].asstr()[()] if STRUCTURE_COLUMNS[c] is STR_DTYPE
                    else group[c][()])
                for c in STRUCTURE_COLUMNS}
        return dict(self._labels)

    @property
    def ids(self) -> np.ndarray:
        """(S,) structure ids, object array of str, in file order."""
        return self.labels["structure_id"]

    @property
    def offsets(self) -> np.ndarray:
        """(S+1,) int64 row offsets of the peak arrays (a copy)."""
        return self._offsets.copy()

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(source, reason)`` of every input that produced no structure, in input order."""
        group = self._h5()["errors"]
        return list(zip(group["source"].asstr()[()].tolist(),
                        group["reason"].asstr()[()].tolist(), strict=True))

    def index(self, key: int | str) -> int:
        """Row of a structure given its index (negative counts from the end) or id.

        Raises:
            DatabaseError: index out of range, or unknown id (close ids are suggested).
        """
        if isinstance(key, (int, np.integer)):
            n = len(self)
            if not -n <= key < n:
                raise DatabaseError(f"structure index {key} out of range for {n} structures")
            return int(key) % n
        if self._index is None:
            self._index = {sid: i for i, sid in enumerate(self.ids.tolist())}
        if key in self._index:
            return self._index[key]
        close = difflib.get_close_matches(str(key), list(self._index), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise DatabaseError(f"no structure with id {key!r} in {self.path}{hint}")

    # ---- peaks ---------------------------------------------------------------------
    def peaks(self, key: int | str):
        """The :class:`xrdsim.PeakList` of one structure (by index or id)."""
        from xrdsim.peaks.lines import PeakList

        i = self.index(key)
        rows = self._read(np.array([i], dtype=np.int64), tuple(PEAK_FIELDS))[0]
        return PeakList(**rows, wavelength=float(self._h5().attrs["wavelength"]))

    def record(self, key: int | str) -> tuple[Any, dict[str, Any]]:
        """``(PeakList, {column: value})`` of one structure."""
        i = self.index(key)
        labels = {c: (v[i].item() if isinstance(v[i], np.generic) else v[i])
                  for c, v in self.labels.items()}
        return self.peaks(i), labels

    def require_standard_hkl(self) -> None:
        """Refuse a file whose Miller indices are not in the cell of its structure table.

        Raises:
            DatabaseError: format version < 3 (lines indexed in the CIF's own cell), which
                preferred orientation and lattice strain cannot use; the fix is named.
        """
        if int(self._h5().attrs["format_version"]) < STANDARD_HKL_VERSION:
            raise DatabaseError(
                f"{self.path} was written by an xrdsim that indexed each line in the CIF's own "
                "cell, not in the standardised cell of its structure table, so the crystal ops "
                "(preferred_orientation, lattice_strain) cannot use it: rebuild it with "
                "`xrdsim peaks` (or `xrdsim build`, which writes it beside the store)")

    def ragged(self, indices: Sequence[int] | np.ndarray, *, hkl: bool = False,
               raw: bool = False) -> PeakBatch:
        """Peaks of an arbitrary list of structures (any order, repeats allowed).

        ``hkl=True`` also reads each line's Miller indices (for preferred orientation and
        lattice strain; refused for files of format version < 3);
        ``raw=True`` returns the unscaled |F|²·LP·multiplicity as ``intensity`` (for
        multi-phase patterns, whose phases must keep their absolute scale).

        Preloaded (see ``preload``): one NumPy gather. Otherwise the wanted row ranges
        closer than :data:`MERGE_GAP_ROWS` are merged and each merged range is read with
        one contiguous slice per field, then gathered with NumPy.

        Raises:
            DatabaseError: an index outside ``[0, len(db))``, an unreadable file, or
                ``hkl=True`` on a file of format version < 3.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DatabaseError(f"structure indices must lie in [0, {n}), got min "
                                f"{idx.min()} and max {idx.max()}")
        if hkl:
            self.require_standard_hkl()
        inten = "intensity_raw" if raw else "intensity"
        fields = ("two_theta", inten, "hkl") if hkl else ("two_theta", inten)
        rows, offsets = self._read(idx, fields)
        return PeakBatch(idx, rows["two_theta"], rows[inten], offsets, rows.get("hkl"))

    def cells(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B, 6) float64 unit cells a, b, c (Å), α, β, γ (°) of the given structures."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        labels = self.labels
        return np.stack([labels[c][idx] for c in ("a", "b", "c", "alpha", "beta", "gamma")],
                        axis=1).astype(np.float64)

    def iter_batches(self, batch_size: int) -> Iterator[PeakBatch]:
        """Yield batches of ``batch_size`` consecutive structures (the last may be shorter)."""
        if int(batch_size) < 1:
            raise DatabaseError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, len(self), int(batch_size)):
            yield self.ragged(np.arange(start, min(start + int(batch_size), len(self))))

    def _read(self, idx: np.ndarray, fields: tuple[str, ...]) -> tuple[dict, np.ndarray]:
        starts, ends = self._offsets[idx], self._offsets[idx + 1]
        lengths = ends - starts
        out_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        pos = _gather_positions(starts, lengths)
        self._h5()
        try:
            return self._gather(pos, lengths, starts, ends, fields), out_offsets
        except OSError as exc:
            raise DatabaseError(f"{self.path}: reading /peaks failed (corrupt file?): "
                                f"{exc}") from None

    def _gather(self, pos, lengths, starts, ends, fields) -> dict[str, np.ndarray]:
        """Rows ``pos`` of each field, from memory or from merged contiguous slices."""
        if self._preload and set(fields) <= set(PRELOADABLE):  # each field loaded when first asked
            if self._memory is None:
                self._memory = {}
            for k in fields:
                if k not in self._memory:
                    self._memory[k] = self._dsets[k][()]
            return {k: self._memory[k][pos] for k in fields}
        # merge the wanted [start, end) ranges into blocks read with one slice each
        keep = lengths > 0
        order = np.argsort(starts[keep], kind="stable")
        s, e = starts[keep][order], ends[keep][order]
        if s.size == 0:
            return {k: np.empty((0, *PEAK_FIELDS[k][1]), PEAK_FIELDS[k][0]) for k in fields}
        reach = np.maximum.accumulate(e)
        new_block = np.concatenate([[True], s[1:] > reach[:-1] + MERGE_GAP_ROWS])
        b_start = s[new_block]
        b_end = np.maximum.reduceat(e, np.flatnonzero(new_block))
        b_buf = np.concatenate([[0], np.cumsum(b_end - b_start)])
        block = np.searchsorted(b_start, pos, side="right") - 1
        local = pos - b_start[block] + b_buf[block]
        out = {}
        for k in fields:
            dset = self._dsets[k]
            buf = np.concatenate([dset[a:b] for a, b in zip(b_start, b_end, strict=True)])
            out[k] = buf[local]
        return out

    def summary(self, *, top_errors: int = 10) -> dict[str, Any]:
        """Counts, per-crystal-system counts, peaks-per-structure statistics, settings,
        versions and the most common failure reasons (what ``xrdsim peaks-info`` prints)."""
        from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

        attrs = self.attrs
        n_peaks = np.diff(self._offsets)
        column = self._h5()["structures/crystal_system"][()]  # not the whole table
        systems = np.bincount(column.astype(np.int64), minlength=7)
        errors = self.errors
        stats = ({"min": int(n_peaks.min()), "median": float(np.median(n_peaks)),
                  "mean": float(n_peaks.mean()), "max": int(n_peaks.max())}
                 if n_peaks.size else {})
        return {
            "path": str(self.path), "format_version": attrs["format_version"],
            "created": attrs.get("created"), "n_structures": len(self),
            "n_errors": len(errors), "n_peaks": int(self._offsets[-1]),
            "crystal_systems": {name: int(systems[i]) for i, name in enumerate(CRYSTAL_SYSTEMS)},
            "peaks_per_structure": stats,
            "settings": {**{k: attrs[k] for k in ("wavelength", "two_theta_range", "symprec",
                                                  "debye_waller")},
                         "scattering": json.loads(attrs.get("scattering", "null"))},
            "inputs": attrs["inputs"], "versions": attrs["package_versions"],
            "failure_reasons": reason_counts([r for _, r in errors], top=top_errors),
        }


def _validate(f: h5py.File, path: Path) -> None:
    """Refuse files that are not complete peak databases of a readable version."""
    fmt = f.attrs.get("format")
    if fmt != FORMAT_NAME:
        f.close()
        raise DatabaseError(f"{path} is an HDF5 file but not an xrdsim peak database "
                            f"(format attribute {fmt!r}, expected {FORMAT_NAME!r})")
    version = int(f.attrs.get("format_version", -1))
    if version > FORMAT_VERSION or version < 1:
        f.close()
        raise DatabaseError(f"{path} has peak-database format version {version}; this xrdsim "
                            f"({__version__}) reads version {FORMAT_VERSION}: upgrade xrdsim")
    if not f.attrs.get("complete", False):
        f.close()
        raise DatabaseError(f"{path} is incomplete (its writer did not finish); write it again")
    needed = ([f"peaks/{k}" for k in (*PEAK_FIELDS, "offsets")]
              + [f"structures/{c}" for c in STRUCTURE_COLUMNS
                 if version > 1 or c not in ADDED_COLUMNS]
              + ["errors/source", "errors/reason"])
    missing = [name for name in needed if name not in f]
    if missing:
        f.close()
        raise DatabaseError(f"{path} is corrupt: datasets {missing} are missing")


def reason_counts(reasons: Sequence[str], *, top: int | None = None) -> dict[str, int]:
    """Count failure reasons by kind, most common first.

    Reasons that differ only in quoted names and numbers are one kind ("unknown element
    'Xx'" and "unknown element 'Qq'"); in a kind's text a quoted name or number is replaced
    by ``…`` only where its members differ, so a constant one ("not a CIF: no 'data_'
    block header") is shown as written.
    """
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for reason in reasons:
        parts = _VARIABLE.split(reason)  # static, token, static, token, ..., static
        groups.setdefault(tuple(parts[0::2]), []).append(parts[1::2])
    counts = {}
    for static, members in groups.items():
        shown = [static[0]]
        for k, tokens in enumerate(zip(*members, strict=True)):
            same = len(set(tokens)) == 1
            shown.append(tokens[0] if same else "'…'" if tokens[0][0] in "'\"" else "…")
            shown.append(static[k + 1])
        counts["".join(shown)] = len(members)
    return dict(Counter(counts).most_common(top))
