"""Which files a list of pattern inputs means: files, folders and glob patterns.

Every command that reads measured patterns (``prepare``, ``predict``, ``evaluate --measured``)
expands its inputs with :func:`pattern_files`, so each takes the same kinds of input.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

#: Characters that make a path a glob pattern (``scans/*.xrdml``).
GLOB_CHARS = frozenset("*?[")


def is_glob(path: str | Path) -> bool:
    """True when ``path`` contains a glob character and names no existing file."""
    return not Path(path).exists() and bool(GLOB_CHARS & set(str(path)))


def pattern_files(paths: Iterable[str | Path], *, exclude: Iterable[str | Path] = ()
                  ) -> list[Path]:
    """The pattern files behind ``paths``, in input order.

    A file stays as given; a folder becomes every entry in it that is not a folder (not
    recursive, sorted by name, hidden files skipped) — a file no reader handles (a suffix
    outside :data:`xrdsim.measured.readers.SUFFIX_FORMATS`) stays, to fail as that one input
    with the reason, and so do FIFOs, devices and dangling or looping links, which the reader
    records as errors without opening them: never skipped unseen. A glob pattern
    (``scans/*.xrdml``, for shells that do not expand it) becomes its matches, sorted.
    ``exclude`` (e.g. the labels CSV) is skipped. A missing path, or a pattern without
    match, stays, to fail as that one input.
    """
    skip = {_key(Path(p)) for p in exclude}
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if is_glob(path):
            matches = [Path(m) for m in sorted(glob.glob(str(path)))]
            out.extend(m for m in matches if not m.is_dir() and _key(m) not in skip)
            if not matches:
                out.append(path)
        elif path.is_dir():
            out.extend(p for p in sorted(path.iterdir())
                       if not p.is_dir() and not p.name.startswith(".")
                       and _key(p) not in skip)
        else:
            out.append(path)
    return out


def _key(path: Path) -> Path:
    """``path`` resolved as far as it goes (a looping link resolves to itself)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def missing_inputs(paths: Iterable[str | Path]) -> list[str]:
    """Inputs that name nothing: a missing path, or a glob pattern with no match."""
    return [str(p) for p in paths
            if (is_glob(p) and not glob.glob(str(p))) or not (is_glob(p) or Path(p).exists())]
