"""Statistics of real crystals that steer the synthetic-crystal generator.

:func:`measure_statistics` reads real structures (MP-20's validation split, see
``xrdsim/data/README.md``) and tabulates, at spglib's ``symprec``:

* ``element_structures``: element → number of structures that contain it;
* ``n_elements`` / ``n_orbits``: histograms of distinct elements and of occupied Wyckoff
  orbits (symmetry-distinct sites) per structure;
* ``wyckoff``: space group → Wyckoff letter → number of orbits on that position;
* ``dof_orbits``: free coordinates of a Wyckoff position (0–3) → number of orbits on
  such positions (all groups), the prior for groups MP-20 rarely or never shows;
* ``packing_quantiles``: 101 quantiles (0 %, 1 %, …, 100 %) of the packing factor
  Σᵢ (4/3)·π·rᵢ³ / V with rᵢ the covalent radius of atom i (pyxtal's radii);
* ``distance_ratio_quantiles``: quantiles (0 %, 0.1 %, 1 %, 5 %, 50 %) of the
  nearest-neighbour distance over the sum of covalent radii, dᵢⱼ / (rᵢ + rⱼ).

The shipped table ``xrdsim/data/synth_statistics.json`` is regenerated with::

    python -m xrdsim.structures.synth_statistics \\
        ../shared/data/structures/mp20_val.csv.gz -o xrdsim/data/synth_statistics.json

:func:`packing_quantiles` measures the packing factor over the structures that contain
one element (the ``minerals`` profile's volumes, ``packing_quantiles`` of
``xrdsim/data/synth_profiles.json``: MP-20's oxygen-bearing structures)::

    python -m xrdsim.structures.synth_statistics \\
        ../shared/data/structures/mp20_val.csv.gz --containing O -o packing_O.json
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import spglib

from xrdsim.structures.reader import read_structures
from xrdsim.structures.symmetry import DEFAULT_ANGLE_TOLERANCE, DEFAULT_SYMPREC, spglib_cell

#: Quantile levels (%) stored for the distance ratio dᵢⱼ / (rᵢ + rⱼ).
DISTANCE_LEVELS = (0.0, 0.1, 1.0, 5.0, 50.0)
#: Neighbour search radius (Å) for the nearest-neighbour distance of every atom.
NEIGHBOUR_RADIUS = 5.0


@functools.cache
def covalent_radius(symbol: str) -> float:
    """Covalent radius (Å) of an element, from pyxtal's element table (what it places by)."""
    from pyxtal.database.element import Element

    return float(Element(symbol).covalent_radius)


def atomic_volume(symbol: str) -> float:
    """Volume (Å³) of a sphere of the element's covalent radius: (4/3)·π·r³."""
    return 4.0 / 3.0 * math.pi * covalent_radius(symbol) ** 3


@functools.cache
def wyckoff_dof(space_group: int) -> dict[str, tuple[int, int]]:
    """Wyckoff letter → (multiplicity, free coordinates) of a space group (pyxtal)."""
    from pyxtal.symmetry import Group

    group = Group(space_group)
    return {w.letter: (int(w.multiplicity), int(w.get_dof())) for w in group.Wyckoff_positions}


def measure_statistics(paths: list[str], *, symprec: float = DEFAULT_SYMPREC) -> dict[str, Any]:
    """Tabulate the statistics listed in the module docstring from real structures.

    Args:
        paths: CIF / CSV(.gz) inputs as :func:`xrdsim.structures.reader.read_structures`.
        symprec: spglib tolerance (Å) at which orbits and Wyckoff letters are found.

    Returns:
        A JSON-ready dict (keys as the module docstring, plus ``n_structures``,
        ``inputs`` and ``symprec``).
    """
    elements: Counter = Counter()
    n_elements: Counter = Counter()
    n_orbits: Counter = Counter()
    wyckoff: dict[int, Counter] = defaultdict(Counter)
    dof_orbits: Counter = Counter()
    packing, ratios = [], []
    n = 0
    for record in read_structures(paths):
        if not hasattr(record, "structure") or not record.structure.is_ordered:
            continue
        structure = record.structure
        try:
            data = spglib.get_symmetry_dataset(spglib_cell(structure), symprec=symprec,
                                               angle_tolerance=DEFAULT_ANGLE_TOLERANCE,
                                               _throw=True)
        except Exception:  # noqa: BLE001 - spglib's error: no symmetry found
            continue
        n += 1
        symbols = [site.specie.symbol for site in structure]
        elements.update(set(symbols))
        n_elements[len(set(symbols))] += 1
        orbits = sorted(set(int(i) for i in data.equivalent_atoms))
        n_orbits[len(orbits)] += 1
        dofs = wyckoff_dof(int(data.number))
        for i in orbits:
            letter = str(data.wyckoffs[i])
            wyckoff[int(data.number)][letter] += 1
            dof_orbits[dofs[letter][1]] += 1
        packing.append(sum(atomic_volume(s) for s in symbols) / structure.volume)
        centers, points, _, dist = structure.get_neighbor_list(NEIGHBOUR_RADIUS)
        nearest = np.full(len(structure), np.inf)
        for i, j, d in zip(centers, points, dist, strict=True):
            ratio = d / (covalent_radius(symbols[i]) + covalent_radius(symbols[j]))
            nearest[i] = min(nearest[i], ratio)
        ratios.extend(nearest[np.isfinite(nearest)].tolist())
    return {
        "inputs": [Path(p).name for p in paths], "symprec": symprec, "n_structures": n,
        "element_structures": dict(sorted(elements.items())),
        "n_elements": {str(k): v for k, v in sorted(n_elements.items())},
        "n_orbits": {str(k): v for k, v in sorted(n_orbits.items())},
        "wyckoff": {str(g): dict(sorted(c.items())) for g, c in sorted(wyckoff.items())},
        "dof_orbits": {str(k): v for k, v in sorted(dof_orbits.items())},
        "packing_quantiles": [round(float(x), 5) for x in
                              np.percentile(packing, np.arange(101))],
        "distance_ratio_quantiles": {str(q): round(float(np.percentile(ratios, q)), 4)
                                     for q in DISTANCE_LEVELS},
    }


def packing_quantiles(paths: list[str], *, containing: str) -> dict[str, Any]:
    """101 quantiles of Σᵢ (4/3)·π·rᵢ³ / V over the ordered structures holding ``containing``.

    Unlike :func:`measure_statistics` no symmetry is needed, so structures are only read
    (the fast CIF path for MP-20's P1 CIFs).
    """
    packing = []
    for record in read_structures(paths):
        if not hasattr(record, "structure") or not record.structure.is_ordered:
            continue
        symbols = [site.specie.symbol for site in record.structure]
        if containing in symbols:
            packing.append(sum(atomic_volume(s) for s in symbols) / record.structure.volume)
    if not packing:
        raise ValueError(f"no ordered structure in {paths} contains {containing}")
    return {"inputs": [Path(p).name for p in paths], "containing": containing,
            "n_structures": len(packing),
            "packing_quantiles": [round(float(x), 5) for x in
                                  np.percentile(packing, np.arange(101))]}


@functools.cache
def load_statistics() -> dict[str, Any]:
    """The shipped statistics (``xrdsim/data/synth_statistics.json``)."""
    text = resources.files("xrdsim.data").joinpath("synth_statistics.json").read_text("utf-8")
    return json.loads(text)


def main(argv: list[str]) -> None:
    """``python -m xrdsim.structures.synth_statistics INPUT... [--containing EL] -o OUT.json``."""
    usage = "usage: python -m xrdsim.structures.synth_statistics INPUT... [--containing EL] -o OUT"
    options = {}
    for flag in ("-o", "--containing"):
        if flag in argv:
            k = argv.index(flag)
            if k == len(argv) - 1:
                raise SystemExit(usage)
            options[flag] = argv[k + 1]
            argv = argv[:k] + argv[k + 2:]
    if "-o" not in options:
        raise SystemExit(usage)
    output, inputs = Path(options["-o"]), argv
    if "--containing" in options:
        stats = packing_quantiles(inputs, containing=options["--containing"])
    else:
        stats = measure_statistics(inputs)
    output.write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    print(f"{output}: {stats['n_structures']} structures")


if __name__ == "__main__":
    main(sys.argv[1:])
