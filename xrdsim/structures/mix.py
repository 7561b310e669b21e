"""Mixing real and synthetic structures at a chosen ratio into one build input.

:func:`mix_sources` writes one CSV.gz of CIFs (the format every stage reads) holding
every structure of the ``real`` inputs plus ``round(ratio · n_real)`` synthetic crystals
(``xrdsim synth`` tables), and beside it the recipe ``<stem>.mix.json``. The synthetic
crystals are taken round-robin over their intended space groups — the first crystal
of every group, then the second of every group, … (groups in a fixed shuffled order,
:func:`round_robin`) — so any ratio spreads them as evenly over the groups as the
tables allow. Nothing is random: the same inputs and ratio give
the same bytes.

``xrdsim build mixed.csv.gz`` then records the recipe in the dataset manifest (and in
the build fingerprint that ``--resume`` checks): see
:func:`xrdsim.dataset.manifest.describe_inputs`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrdsim.errors import ConfigError, StructureError
from xrdsim.files import write_json
from xrdsim.structures.sources import CifSource, iter_cif_sources

#: Columns of a mixed table.
COLUMNS = ("material_id", "origin", "intended_space_group", "cif")
#: Suffix of the recipe file written beside a mixed table (``<stem>.mix.json``).
RECIPE_SUFFIX = ".mix.json"


def recipe_path(table: str | os.PathLike) -> Path:
    """``mixed.csv.gz`` → ``mixed.mix.json`` (the recipe beside a mixed table)."""
    table = Path(table)
    name = table.name
    for suffix in (".csv.gz", ".csv"):
        if name.endswith(suffix):
            return table.with_name(name[: -len(suffix)] + RECIPE_SUFFIX)
    return table.with_name(name + RECIPE_SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listing(paths: Sequence[Path]) -> tuple[list[CifSource], list[StructureError]]:
    good, bad = [], []
    for item in iter_cif_sources(paths):
        (bad if isinstance(item, StructureError) else good).append(item)
    return good, bad


def round_robin(sources: Sequence[CifSource]) -> list[CifSource]:
    """Synthetic crystals ordered rank-major over their intended groups.

    Rank r of a group is its r-th crystal in input order; the result lists all rank-0
    crystals, then all rank-1 crystals, … Within a rank the groups follow
    sha256(``"<rank>|<group>"``), a fixed shuffle, so a partial rank spreads over all
    crystal systems instead of taking the low group numbers. Crystals without an
    intended group count as group 0.
    """
    by_group: dict[int, list[CifSource]] = defaultdict(list)
    for s in sources:
        by_group[s.intended_space_group or 0].append(s)
    depth = max((len(v) for v in by_group.values()), default=0)
    return [by_group[g][r] for r in range(depth)
            for g in sorted(by_group, key=lambda g: _rank_key(r, g)) if r < len(by_group[g])]


def _rank_key(rank: int, group: int) -> bytes:
    return hashlib.sha256(f"{rank}|{group}".encode()).digest()


def mix_sources(
    output: str | os.PathLike,
    *,
    real: Sequence[str | os.PathLike],
    synthetic: Sequence[str | os.PathLike],
    ratio: float,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a mixed table of all ``real`` structures and ``ratio`` synthetic per real one.

    Args:
        output: the ``.csv.gz`` to write; the recipe goes to :func:`recipe_path`.
        real: CIF files, folders, CSV(.gz) tables of real structures.
        synthetic: tables written by ``xrdsim synth``.
        ratio: synthetic crystals per real structure, ≥ 0 (1.0: as many as real ones).
        overwrite: replace existing outputs.

    Returns:
        The recipe (also written as JSON): inputs with sha256, ratio, counts, the
        selection rule and the number of space groups the synthetic part covers.

    Raises:
        ConfigError: a negative ratio, no real structure, fewer synthetic crystals
            than the ratio asks for (the message gives the largest possible ratio),
            or an existing output without ``overwrite``.
    """
    output = Path(output)
    if not ratio >= 0:
        raise ConfigError(f"ratio must be >= 0 synthetic crystals per real structure, "
                          f"got {ratio}")
    if output.exists() and not overwrite:
        raise ConfigError(f"{output} already exists; pass overwrite=True (CLI: --overwrite)")
    real_paths, synth_paths = [Path(p) for p in real], [Path(p) for p in synthetic]
    real_sources, real_bad = _listing(real_paths)
    synth_sources, synth_bad = _listing(synth_paths)
    if not real_sources:
        raise ConfigError(f"no real structure listed from {[str(p) for p in real_paths]}")
    wanted = round(ratio * len(real_sources))
    if wanted > len(synth_sources):
        raise ConfigError(
            f"ratio {ratio} asks for {wanted} synthetic crystals ({len(real_sources)} real "
            f"structures) but {[str(p) for p in synth_paths]} hold {len(synth_sources)}; "
            f"generate more with `xrdsim synth` or use a ratio <= "
            f"{len(synth_sources) / len(real_sources):.4f}")
    chosen = round_robin(synth_sources)[:wanted]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for origin, items in (("real", real_sources), ("synthetic", chosen)):
        for s in items:
            writer.writerow([s.structure_id, origin, s.intended_space_group or "", s.text])
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                               filename="") as gz:
        gz.write(text.getvalue().encode("utf-8"))
    tmp.replace(output)
    recipe = {
        "real": [{"path": str(p), "sha256": _sha256(p) if p.is_file() else None}
                 for p in real_paths],
        "synthetic": [{"path": str(p), "sha256": _sha256(p) if p.is_file() else None}
                      for p in synth_paths],
        "ratio": float(ratio), "n_real": len(real_sources), "n_synthetic": len(chosen),
        "n_synthetic_available": len(synth_sources),
        "unreadable_inputs": [{"source": e.source, "reason": e.reason}
                              for e in real_bad + synth_bad],
        "synthetic_space_groups": len({s.intended_space_group for s in chosen}),
        "selection": "all real structures; synthetic round-robin over intended space "
                     "groups (rank 0 of every group, then rank 1, ...; groups within a "
                     "rank ordered by sha256('<rank>|<group>'))",
    }
    write_json(recipe_path(output), recipe, indent=1)
    return recipe
