"""Listing structure inputs: CIF files, folders of CIFs, CSV(.gz) files of CIF text.

Stage 1 of reading structures (see :mod:`xrdsim.structures.reader`): :func:`iter_cif_sources`
walks the inputs in a deterministic order and yields one :class:`CifSource` (origin,
id, CIF text) per structure — or a :class:`~xrdsim.errors.StructureError` for an input
that cannot be read at all. It never raises for bad input.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from xrdsim.errors import StructureError

#: File suffixes read as CIF / CSV when given directly or found in a folder.
CIF_SUFFIXES = (".cif",)
CSV_SUFFIXES = (".csv", ".csv.gz")
#: Default id column of CSV inputs (used when present).
DEFAULT_ID_COLUMN = "material_id"
#: CSV column with the space group a structure was made in (synthetic crystals, see
#: :mod:`xrdsim.structures.synth_job`); when present the peaks job checks it by spglib.
INTENDED_GROUP_COLUMN = "intended_space_group"
#: A CIF file bigger than this is refused unread (the largest MP-20 CIF is a few kB; a
#: 16 MB file of one structure would exceed every site limit anyway).
MAX_CIF_BYTES = 16 << 20
_DATA_LINE = re.compile(r"^data_(\S*)", re.IGNORECASE)


@dataclass(frozen=True)
class CifSource:
    """One structure's CIF text and where it came from.

    Attributes:
        source: origin for humans and error tables: ``"dir/file.cif"`` or
            ``"dir/file.csv.gz#<id>"``.
        structure_id: unique, stable id: the CSV id column (``material_id``) if present,
            else ``"<stem>#<row>"`` (row 0-based); for CIF files the file stem (the
            path below the common folder when distinct inputs share a stem, see
            :func:`cif_ids`), plus ``"#<data block>"`` when a file holds several blocks
            (blocks without a cell or atom sites, such as powder-profile or publication
            blocks, are skipped).
        text: the CIF text.
        intended_space_group: the space group the structure was generated in (CSV
            column :data:`INTENDED_GROUP_COLUMN`), or None.
    """

    source: str
    structure_id: str
    text: str
    intended_space_group: int | None = None


def _as_paths(inputs: str | PathLike | Iterable[str | PathLike]) -> list[Path]:
    if isinstance(inputs, (str, PathLike)):
        return [Path(inputs)]
    return [Path(p) for p in inputs]


def structure_files_in(folder: Path) -> list[Path]:
    """The ``.cif`` / ``.csv`` / ``.csv.gz`` entries of ``folder`` and of its sub-folders,
    sorted by path; hidden files and folders (``.git``) are skipped. Every command that takes
    structure folders (``peaks``, ``build``, ``mix``, ``sources --dedupe``) reads them so."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in files + dirs
                     if not name.startswith(".") and _suffix_kind(Path(name)))
    return sorted(found)


def _suffix_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(CIF_SUFFIXES):
        return "cif"
    return None


def iter_cif_sources(
    inputs: str | PathLike | Iterable[str | PathLike],
    *,
    cif_column: str | None = None,
    id_column: str | None = None,
) -> Iterator[CifSource | StructureError]:
    """Yield the CIF texts of ``inputs`` in a deterministic order; never raises for bad input.

    Args:
        inputs: a path or paths: ``.cif`` files, ``.csv`` / ``.csv.gz`` files with a
            CIF-text column, or folders (their ``*.cif``, ``*.csv``, ``*.csv.gz`` files
            and those of their sub-folders, :func:`structure_files_in`).
        cif_column: CSV column with the CIF text; default: the column named ``cif``
            (case-insensitive).
        id_column: CSV column with the structure ids; default ``material_id`` when
            present, else ids are ``"<file stem>#<row>"``.

    Yields:
        :class:`CifSource` per structure, or a :class:`StructureError` (source, reason)
        for a missing / unreadable path, an empty file, a folder without inputs, a
        CSV without the CIF column, an empty CIF cell, or a truncated / corrupt file
        (the rows read before the damage are still yielded).
    """
    listed: list[Path | StructureError] = []
    for path in _as_paths(inputs):
        if path.is_dir():
            entries = structure_files_in(path)
            for odd in (p for p in entries if not p.is_file()):
                if not odd.is_dir():  # a sub-folder named x.cif is searched, not read
                    listed.append(StructureError(str(odd), _not_a_file_reason(odd)))
            if not entries:
                listed.append(StructureError(str(path), "folder holds no .cif, .csv or .csv.gz "
                                             "files (sub-folders included)"))
            listed.extend(p for p in entries if p.is_file())
        elif path.is_file():
            listed.append(path)
        elif path.exists() or path.is_symlink():
            listed.append(StructureError(str(path), _not_a_file_reason(path)))
        else:
            listed.append(StructureError(str(path), "no such file or folder"))
    ids = cif_ids([p for p in listed if isinstance(p, Path)])
    for item in listed:
        if isinstance(item, StructureError):
            yield item
        else:
            yield from _file_sources(item, cif_column, id_column, ids.get(item, item.stem))


def cif_ids(files: Iterable[Path]) -> dict[Path, str]:
    """Structure id of every CIF file among ``files``: its stem, unique across the inputs.

    Distinct files that share a stem (``a/Li2O.cif``, ``b/Li2O.cif``) get their path
    relative to the folder that holds all of them, without the suffix (``a/Li2O``,
    ``b/Li2O``), so no structure is lost to an id collision. The same file listed twice
    keeps one id: the peak database reports the second copy as a duplicate.
    """
    cifs = [f for f in files if _suffix_kind(f) == "cif"]
    by_stem: dict[str, set[Path]] = {}
    for f in cifs:
        by_stem.setdefault(f.stem, set()).add(f.resolve())
    out: dict[Path, str] = {}
    for f in cifs:
        group = by_stem[f.stem]
        if len(group) == 1:
            out[f] = f.stem
            continue
        root = Path(os.path.commonpath([g.parent for g in group]))
        out[f] = f.resolve().relative_to(root).with_suffix("").as_posix()
    return out


def _not_a_file_reason(path: Path) -> str:
    """Why a listed path is skipped: a dangling or looping link, a FIFO, a device, ..."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "symbolic link that is dangling or loops; skipped"
    return "not a regular file (FIFO, device or socket); skipped without reading"


def normalise_newlines(text: str) -> str:
    """CR-LF and CR-only (classic Mac) line ends -> LF: pymatgen's CIF reader reads to
    the next LF, so a CR-only file would be one comment line."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _file_sources(path: Path, cif_column, id_column,
                  stem: str) -> Iterator[CifSource | StructureError]:
    kind = _suffix_kind(path)
    if kind == "csv":
        yield from _csv_sources(path, cif_column, id_column)
        return
    if kind is None:
        yield StructureError(str(path), "unsupported file type: expected a .cif, .csv or "
                             ".csv.gz file, or a folder of them")
        return
    try:
        size = path.stat().st_size
        if size > MAX_CIF_BYTES:
            yield StructureError(str(path), f"{size} bytes, more than the {MAX_CIF_BYTES} a "
                                 "CIF file may have; split it or pass a CSV")
            return
        with path.open("rb") as handle:
            text = normalise_newlines(handle.read(MAX_CIF_BYTES).decode("utf-8",
                                                                       errors="replace"))
    except OSError as exc:
        yield StructureError(str(path), f"cannot read file: {exc.strerror or exc}")
        return
    if not text.strip():
        yield StructureError(str(path), "empty file")
        return
    blocks = split_data_blocks(text)
    if len(blocks) <= 1:
        yield CifSource(str(path), stem, text)
        return
    structural = [(name, block) for name, block in blocks if is_structure_block(block)]
    if not structural:
        yield StructureError(str(path), f"no atom sites in any of its {len(blocks)} data blocks "
                             f"({', '.join(name for name, _ in blocks[:5])}); is this a "
                             "powder-profile CIF without the structure?")
    for name, block in structural:
        yield CifSource(f"{path}#{name}", f"{stem}#{name}", block)


#: Tags that make a data block a structure (a cell or atom sites); multi-block files also
#: hold profile (``_pd_*``), reflection-list and publication blocks, which are skipped.
_STRUCTURE_TAG = re.compile(r"^[ \t]*_(cell_length_a|atom_site_fract_x|atom_site_cartn_x)\b",
                            re.IGNORECASE | re.MULTILINE)


def is_structure_block(text: str) -> bool:
    """True if a CIF data block gives a cell or atom sites (what a structure needs)."""
    return _STRUCTURE_TAG.search(text) is not None


def split_data_blocks(text: str) -> list[tuple[str, str]]:
    """Split CIF text into ``(block name, block text)`` at ``data_`` lines.

    ``data_`` inside semicolon-delimited text fields is ignored. Text before the
    first block (comments) is kept with the first block. Blocks with empty or
    repeated names get their 0-based position as name.
    """
    lines = text.splitlines(keepends=True)
    starts, in_field = [], False
    for i, line in enumerate(lines):
        if line.startswith(";"):
            in_field = not in_field
        elif not in_field and _DATA_LINE.match(line):
            starts.append(i)
    if not starts:
        return []
    bounds = [0, *starts[1:], len(lines)]
    blocks, seen = [], set()
    for k in range(len(starts)):
        name = _DATA_LINE.match(lines[starts[k]]).group(1) or str(k)
        if name in seen:
            name = str(k)
        seen.add(name)
        blocks.append((name, "".join(lines[bounds[k]:bounds[k + 1]])))
    return blocks


def _csv_sources(path: Path, cif_column, id_column) -> Iterator[CifSource | StructureError]:
    gz = path.name.lower().endswith(".gz")
    try:
        raw = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115
        handle = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    except OSError as exc:
        yield StructureError(str(path), f"cannot read file: {exc.strerror or exc}")
        return
    stem = path.name[: -len(".csv.gz")] if gz else path.stem
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    row_no = -1
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                yield StructureError(str(path), "empty file (no CSV header)")
                return
            cif_idx, id_idx, problem = _csv_columns(header, cif_column, id_column)
            if problem:
                yield StructureError(str(path), problem)
                return
            names = [h.strip() for h in header]
            sg_idx = names.index(INTENDED_GROUP_COLUMN) if INTENDED_GROUP_COLUMN in names else None
            seen: set[str] = set()
            for row_no, row in enumerate(reader):
                yield _csv_row(path, stem, row_no, row, cif_idx, id_idx, seen, sg_idx)
        except (OSError, EOFError, zlib.error, csv.Error) as exc:
            yield StructureError(str(path), f"file is truncated or corrupt after {row_no + 1} "
                                 f"data rows ({type(exc).__name__}: {exc})")


def _csv_columns(header, cif_column, id_column) -> tuple[int, int | None, str | None]:
    names = [h.strip() for h in header]
    if cif_column is None:
        matches = [i for i, h in enumerate(names) if h.lower() == "cif"]
    else:
        matches = [i for i, h in enumerate(names) if h == cif_column]
    if not matches:
        wanted = f"column {cif_column!r}" if cif_column else "a column named 'cif'"
        return -1, None, (f"no CIF column: expected {wanted}, found columns {names[:20]}; "
                          "pass cif_column= (CLI: --cif-column) to name it")
    id_idx = None
    if id_column is not None:
        if id_column not in names:
            return -1, None, (f"id column {id_column!r} not found, found columns "
                              f"{names[:20]}")
        id_idx = names.index(id_column)
    elif DEFAULT_ID_COLUMN in names:
        id_idx = names.index(DEFAULT_ID_COLUMN)
    return matches[0], id_idx, None


def _csv_row(path, stem, row_no, row, cif_idx, id_idx, seen,
             sg_idx) -> CifSource | StructureError:
    sid = row[id_idx].strip() if id_idx is not None and id_idx < len(row) else ""
    if not sid or sid in seen:  # missing or repeated id: fall back to the row number
        sid = f"{sid or stem}#{row_no}"
    seen.add(sid)
    source = f"{path}#{sid}"
    text = row[cif_idx] if cif_idx < len(row) else ""
    if not text.strip():
        return StructureError(source, f"row {row_no}: empty CIF cell")
    if sg_idx is None or sg_idx >= len(row) or not row[sg_idx].strip():
        return CifSource(source, sid, normalise_newlines(text))
    try:
        intended = int(row[sg_idx])
    except ValueError:
        intended = 0
    if not 1 <= intended <= 230:
        return StructureError(source, f"row {row_no}: {INTENDED_GROUP_COLUMN} = "
                              f"{row[sg_idx]!r} is not a space-group number 1-230")
    return CifSource(source, sid, normalise_newlines(text), intended)
