"""Index measured patterns: lines → cells, one call per pattern or per batch of files.

::

    from xrdsim import index_pattern, read_pattern

    result = index_pattern(read_pattern("MnO.xy", wavelength="CuKa"))
    best = result.best            # CellSolution or None ("no solution": result.reason)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from xrdsim.errors import PatternReadError, XrdsimError
from xrdsim.indexing.lines import ObservedLines, find_lines
from xrdsim.indexing.search import search_cells
from xrdsim.indexing.settings import IndexingSettings
from xrdsim.indexing.solution import IndexingResult


def index_lines(lines: ObservedLines, *, settings: IndexingSettings | None = None
                ) -> IndexingResult:
    """Cells that index a list of observed lines (positions in degrees 2θ at ``lines.wavelength``).

    Returns:
        the result; ``result.solutions`` is empty and ``result.reason`` says why when no
        cell reaches the settings' ``min_merit``.
    """
    settings = settings or IndexingSettings()
    start = time.process_time()
    solutions, stats, reason, n = search_cells(lines, settings)
    stats = {"systems": stats, "cpu_seconds": round(time.process_time() - start, 4)}
    return IndexingResult(source=lines.source, lines=lines, solutions=tuple(solutions),
                          reason=reason, n_search_lines=n, stats=stats, settings=settings)


def index_pattern(pattern, *, settings: IndexingSettings | None = None) -> IndexingResult:
    """Find the lines of a measured pattern (:func:`.lines.find_lines`) and index them.

    Args:
        pattern: a :class:`xrdsim.measured.readers.MeasuredPattern` with its wavelength.
    """
    settings = settings or IndexingSettings()
    start = time.process_time()
    lines = find_lines(pattern, min_intensity=settings.min_intensity,
                       noise_sigmas=settings.noise_sigmas, monochromatic=settings.monochromatic)
    result = index_lines(lines, settings=settings)
    result.stats["cpu_seconds"] = round(time.process_time() - start, 4)
    return dataclasses.replace(result, scan=(pattern.two_theta, pattern.intensity))


def index_files(paths: Iterable[str | Path], *, wavelength: float | str | None = None,
                force_wavelength: bool = False, settings: IndexingSettings | None = None
                ) -> Iterator[IndexingResult | PatternReadError]:
    """Index every pattern file of ``paths`` (files, folders, globs), one result per file.

    A file that cannot be read or indexed yields a :class:`PatternReadError` naming it, and
    the others go on.
    """
    from xrdsim.measured.paths import pattern_files
    from xrdsim.measured.readers import read_pattern

    for path in pattern_files(paths):
        try:
            pattern = read_pattern(path, wavelength=wavelength, force_wavelength=force_wavelength)
            yield index_pattern(pattern, settings=settings)
        except PatternReadError as exc:
            yield exc
        except XrdsimError as exc:
            yield PatternReadError(str(path), str(exc))
