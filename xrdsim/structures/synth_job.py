"""Generating a table of synthetic crystals: (space group, index) pairs in parallel → CSV.gz.

:func:`write_synthetic` generates ``per_space_group`` crystals for every requested group
(:func:`xrdsim.structures.synth.generate_crystal`) with
:func:`xrdsim.parallel.run_tasks` (in-process, a local dask cluster or a scheduler) and
writes, in (group, index) order whatever order the work finishes in:

* ``<stem>.csv.gz``: one row per crystal, the CSV-of-CIF format ``xrdsim peaks`` and
  ``xrdsim build`` read (columns :data:`COLUMNS`; ``intended_space_group`` is checked
  against spglib when the peaks are computed); gzip without a timestamp, so the same
  settings give the same bytes;
* ``<stem>.errors.csv``: ``source, space_group, index, reason`` per crystal that could
  not be made (impossible composition, ``max_atoms`` below the group's smallest orbit,
  attempts exhausted);
* ``<stem>.json``: the settings, the groups, counts and failure reasons.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xrdsim import __version__
from xrdsim.errors import ConfigError, StructureError
from xrdsim.structures.synth import SynthSettings, generate_crystal

#: Most crystals one ``write_synthetic`` run makes (checked before any task is planned:
#: 10⁹ per group once planned 3.6·10⁹ tasks and ran out of memory). 10⁷ crystals are
#: ≈ 10 GB of CIF text.
MAX_CRYSTALS = 10_000_000

#: Columns of the synthetic-crystal table (``material_id`` and ``cif`` as in MP-20's).
COLUMNS = ("material_id", "formula", "num_atoms", "intended_space_group", "wyckoff",
           "packing_factor", "attempts", "cif")
#: Crystals per parallel task (~0.1-1 s each: large enough to hide dask's overhead).
CHUNK_SIZE = 16


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_synthetic` did (also written to ``<stem>.json``)."""

    path: str
    errors_path: str
    n_requested: int
    n_structures: int
    n_failed: int
    seconds: float
    failure_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Chunk:
    space_group: int
    start: int
    stop: int
    settings: SynthSettings


def _stem(path: Path) -> Path:
    name = path.name
    for suffix in (".csv.gz", ".csv"):
        if name.endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    raise ConfigError(f"output {path} must end in .csv.gz or .csv")


def _run_chunk(chunk: _Chunk) -> list:
    out = []
    for index in range(chunk.start, chunk.stop):
        try:
            out.append(generate_crystal(chunk.space_group, index, chunk.settings))
        except StructureError as exc:
            out.append(exc)
    return out


def write_synthetic(
    output: str | os.PathLike,
    *,
    space_groups: Sequence[int],
    per_space_group: int,
    settings: SynthSettings,
    workers: int | None = 1,
    scheduler: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> SynthSummary:
    """Generate ``per_space_group`` crystals for each of ``space_groups`` into ``output``.

    Args:
        output: ``.csv.gz`` (or ``.csv``) file to write; siblings ``<stem>.errors.csv``
            and ``<stem>.json`` are written beside it.
        space_groups: group numbers 1-230.
        per_space_group: crystals per group (indices 0 … n-1), >= 1.
        settings: the generator's settings (seed, max_atoms, elements, …).
        workers: processes (1: in-process; None: all cores).
        scheduler: address of a dask.distributed scheduler (overrides workers).
        progress: progress bar on stderr.
        overwrite: replace existing outputs.
        chunk_size: crystals per parallel task.

    Raises:
        ConfigError: bad settings, or ``output`` exists without ``overwrite``.
    """
    from xrdsim.parallel import run_tasks

    t0 = time.perf_counter()
    output = Path(output)
    stem = _stem(output)
    if int(per_space_group) < 1:
        raise ConfigError(f"per_space_group must be >= 1, got {per_space_group}")
    if int(per_space_group) * len(space_groups) > MAX_CRYSTALS:
        raise ConfigError(f"{per_space_group} crystals × {len(space_groups)} space groups is "
                          f"more than the {MAX_CRYSTALS:,} one run makes; generate in slices "
                          "(each crystal depends only on --seed, its group and its index)")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output} already exists; pass overwrite=True (CLI: --overwrite)")
    if not output.parent.is_dir():
        raise ConfigError(f"folder {output.parent} does not exist; create it first")
    chunks = [_Chunk(int(g), a, min(a + chunk_size, per_space_group), settings)
              for g in space_groups for a in range(0, per_space_group, chunk_size)]
    done: dict[int, list] = {}
    for i, results in run_tasks(_run_chunk, chunks, workers=workers, scheduler=scheduler,
                                label="synthetic crystals", progress=progress,
                                weights=[c.stop - c.start for c in chunks]):
        done[i] = results
    results = [r for i in range(len(chunks)) for r in done[i]]
    crystals = [r for r in results if not isinstance(r, StructureError)]
    errors = [r for r in results if isinstance(r, StructureError)]
    _write_table(output, crystals)
    errors_path = stem.with_name(stem.name + ".errors.csv")
    with open(errors_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "space_group", "index", "reason"])
        for e in errors:
            _, group, index = e.source.split(":", 1)[1].split("/")
            writer.writerow([e.source, group, index, e.reason])
    reasons = Counter(e.reason.split(":")[0].split(" (")[0] for e in errors)
    summary = SynthSummary(path=str(output), errors_path=str(errors_path),
                           n_requested=len(results), n_structures=len(crystals),
                           n_failed=len(errors), seconds=round(time.perf_counter() - t0, 3),
                           failure_reasons=dict(reasons.most_common(10)))
    meta = {"xrdsim_version": __version__, "settings": settings.to_dict(),
            "space_groups": [int(g) for g in space_groups],
            "per_space_group": int(per_space_group), "summary": asdict(summary)}
    stem.with_name(stem.name + ".json").write_text(json.dumps(meta, indent=1) + "\n",
                                                   encoding="utf-8")
    return summary


def _write_table(output: Path, crystals: list) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for c in crystals:
        writer.writerow([c.structure_id, c.formula, c.num_atoms, c.space_group, c.wyckoff,
                         c.packing_factor, c.attempts, c.cif])
    data = text.getvalue().encode("utf-8")
    tmp = output.with_name(output.name + ".tmp")
    if output.name.endswith(".gz"):
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                   filename="") as gz:
            gz.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(output)
