"""Mineral-shaped synthetic crystals against the default generator: cost and sanity.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_synth_minerals.py [--groups 2,14,15,62,166,194,227]
        [--per-group 2] [--seed 0]
    .venv/bin/python benchmarks/speed/bench_synth_minerals.py --table out/synth_minerals.csv.gz

The first form generates ``per-group`` crystals of each group in this process, once with
the default settings (``SynthSettings(seed)``) and once mineral-shaped
(``--profile minerals --orbits 8-30 --max-atoms 200``), timing each crystal with
``time.process_time`` (CPU time: steady on a shared machine). For every crystal made it
reads the CIF text back (:func:`xrdsim.structures.reader.parse_cif`) and records whether
spglib finds the intended group at symprec 0.1, atoms per cell, occupied orbits, density
(g/cm³) and the shortest interatomic distance (Å, and over the sum of covalent radii).
Plans accepted per plan tried is the share of drawn plans that pyxtal placed and that
passed the symmetry and distance checks. Groups run in turn, both settings per group, and
``benchmarks/results/synth_minerals.json`` is rewritten after each, so a stopped run
keeps a like-for-like comparison of the groups it finished.

The second form applies the same sanity checks to an existing table (no timing) and
prints them as JSON.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from xrdsim.errors import StructureError
from xrdsim.files import write_json
from xrdsim.structures.reader import parse_cif
from xrdsim.structures.sources import CifSource
from xrdsim.structures.symmetry import structure_labels
from xrdsim.structures.synth import SynthSettings, generate_crystal, parse_space_groups
from xrdsim.structures.synth_statistics import covalent_radius
from xrdsim.versions import machine_description, package_versions

RESULTS = Path(__file__).resolve().parents[1] / "results" / "synth_minerals.json"
MINERALS = {"max_atoms": 200, "orbits": (8, 30), "profile": "minerals"}


def crystal_facts(structure_id: str, cif: str, group: int) -> dict:
    """Sanity facts of one generated crystal, read back from its CIF text."""
    structure = parse_cif(CifSource("synth", structure_id, cif)).structure
    radii = np.array([covalent_radius(s.specie.symbol) for s in structure])
    d = np.array(structure.distance_matrix, dtype=float)  # minimum-image distances (Å)
    np.fill_diagonal(d, np.inf)
    return {"recovered": structure_labels(structure, symprec=0.1).space_group == group,
            "atoms": len(structure), "density": float(structure.density),
            "min_distance": float(d.min()),
            "min_ratio": float((d / (radii[:, None] + radii[None, :])).min())}


def summarise(facts: list[dict], orbits: list[int], elements: Counter) -> dict:
    """Distributions of a list of :func:`crystal_facts` (quantiles 0, 25, 50, 75, 100 %)."""
    def q(values):
        return [round(float(x), 3) for x in np.percentile(values, [0, 25, 50, 75, 100])]

    n = len(facts)
    return {"crystals": n,
            "spglib_intended_group_symprec_0.1": f"{sum(f['recovered'] for f in facts)}/{n}",
            "atoms_quantiles": q([f["atoms"] for f in facts]),
            "orbits_quantiles": q(orbits),
            "density_g_cm3_quantiles": q([f["density"] for f in facts]),
            "min_distance_A_quantiles": q([f["min_distance"] for f in facts]),
            "min_distance_over_covalent_sum_quantiles": q([f["min_ratio"] for f in facts]),
            "element_share_of_crystals": {e: round(k / n, 3)
                                          for e, k in elements.most_common(20)}}


def one_crystal(settings: SynthSettings, group: int, index: int) -> dict:
    """Generate one crystal, timed (CPU s), with its sanity facts or its failure."""
    t0 = time.process_time()
    try:
        crystal = generate_crystal(group, index, settings)
    except StructureError as exc:
        impossible = "holds at most" in exc.reason or "needs at least" in exc.reason
        return {"group": group, "cpu_s": time.process_time() - t0,
                "failed": exc.reason.split(" (")[0][:80],
                "plans": 0 if impossible else settings.attempts}
    cpu = time.process_time() - t0
    return {"group": group, "cpu_s": cpu, "plans": crystal.attempts,
            "orbits": len(crystal.wyckoff.split()),
            "elements": sorted({w.split(":")[0] for w in crystal.wyckoff.split()}),
            **crystal_facts(crystal.structure_id, crystal.cif, group)}


def summarise_run(settings: SynthSettings, records: list[dict]) -> dict:
    """Cost and sanity of the crystals of one setting (:func:`one_crystal` records)."""
    made = [r for r in records if "failed" not in r]
    cpu = sum(r["cpu_s"] for r in records)
    plans = sum(r["plans"] for r in records)
    out = {"settings": settings.to_dict(), "requested": len(records), "made": len(made),
           "failed": dict(Counter(r["failed"] for r in records if "failed" in r)),
           "plans_accepted_per_plan_tried": round(len(made) / plans, 3) if plans else None,
           "cpu_s_total": round(cpu, 2),
           "cpu_s_per_crystal_made": round(cpu / len(made), 3) if made else None}
    if made:
        out.update(summarise(made, [r["orbits"] for r in made],
                             Counter(e for r in made for e in r["elements"])))
    return out


def analyse_table(path: Path) -> dict:
    facts, orbits, elements, groups = [], [], Counter(), set()
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            group = int(row["intended_space_group"])
            groups.add(group)
            facts.append(crystal_facts(row["material_id"], row["cif"], group))
            orbits.append(len(row["wyckoff"].split()))
            elements.update({w.split(":")[0] for w in row["wyckoff"].split()})
    return {"table": str(path), "space_groups": len(groups),
            **summarise(facts, orbits, elements)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="2,14,15,62,166,194,227")
    parser.add_argument("--per-group", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", type=Path, default=None,
                        help="analyse this synth table instead of generating")
    args = parser.parse_args()
    if args.table is not None:
        print(json.dumps(analyse_table(args.table), indent=1))
        return
    load0 = os.getloadavg()
    settings = {"default": SynthSettings(seed=args.seed),
                "minerals": SynthSettings(seed=args.seed, **MINERALS)}
    records: dict[str, list] = {name: [] for name in settings}
    head = {"command": "python benchmarks/speed/bench_synth_minerals.py "
                       f"--groups {args.groups} --per-group {args.per_group} --seed {args.seed}",
            "machine": {**machine_description(), "load_average_at_start": list(load0)},
            "versions": package_versions()}
    for group in parse_space_groups(args.groups):  # both settings per group: a stopped run
        for index in range(args.per_group):      # still compares like with like
            for name, setting in settings.items():
                records[name].append(one_crystal(setting, group, index))
            result = {**head, "load_average_now": list(os.getloadavg()),
                      **{name: summarise_run(settings[name], records[name])
                         for name in settings}}
            write_json(RESULTS, result)
    print(json.dumps({k: {m: result[k][m] for m in ("made", "cpu_s_per_crystal_made")}
                      for k in settings}))


if __name__ == "__main__":
    main()
