"""Symmetry labels: spglib's dataset call vs moyopy (Rust), speed and agreement on MP-20.

Run from the repository root (a few minutes on 2 cores):

    .venv/bin/python benchmarks/speed/bench_symmetry.py

Every row of MP-20's test and validation splits (18,093 structures) is read once (fast
path, pymatgen where it refuses) and turned into the spglib cell xrdsim labels
(:func:`xrdsim.structures.symmetry.spglib_cell`). On that same cell, one core, CPU time:

- ``spglib``: ``get_symmetry_dataset(cell, symprec=0.1, angle_tolerance=5)`` — what
  :func:`~xrdsim.structures.symmetry.structure_labels` calls;
- ``moyopy``: ``MoyoDataset(cell, symprec=0.1)`` (its default angle tolerance), and again
  with ``angle_tolerance`` = 5° on the rows where the first disagrees.

Agreement is counted against MP-20's own ``spacegroup_number_symprec0.1`` labels. A
backend may replace spglib only if it keeps every row spglib gets right. Writes
``benchmarks/results/symmetry.json``.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("SPGLIB_WARNING", "OFF")

import csv  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import moyopy  # noqa: E402
import numpy as np  # noqa: E402
import spglib  # noqa: E402

from xrdsim.files import write_json  # noqa: E402
from xrdsim.structures.fast_cif import parse_cif_fast  # noqa: E402
from xrdsim.structures.reader import parse_cif  # noqa: E402
from xrdsim.structures.sources import CifSource  # noqa: E402
from xrdsim.structures.symmetry import spglib_cell  # noqa: E402
from xrdsim.versions import machine_description, package_versions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "structures"
RESULTS = REPO / "benchmarks" / "results" / "symmetry.json"
SYMPREC, ANGLE = 0.1, 5.0


def main() -> None:
    warnings.simplefilter("ignore")
    rows = []
    for name in ("mp20_test", "mp20_val"):
        with gzip.open(DATA / f"{name}.csv.gz", "rt", newline="") as fh:
            for r in csv.DictReader(fh):
                src = CifSource(source=r["material_id"], structure_id=r["material_id"],
                                text=r["cif"])
                record = parse_cif_fast(src) or parse_cif(src)
                rows.append((r["material_id"], int(r["spacegroup_number_symprec0.1"]),
                             spglib_cell(record.structure)))
    t_spglib = t_moyo = 0.0
    results = []
    for mid, mp, (lattice, frac, types) in rows:
        t0 = time.process_time()
        sp = spglib.get_symmetry_dataset((lattice, frac, types), symprec=SYMPREC,
                                         angle_tolerance=ANGLE).number
        t1 = time.process_time()
        mo = moyopy.MoyoDataset(moyopy.Cell(lattice.tolist(), frac.tolist(), types.tolist()),
                                symprec=SYMPREC).number
        t2 = time.process_time()
        t_spglib += t1 - t0
        t_moyo += t2 - t1
        results.append((mid, mp, int(sp), int(mo), (lattice, frac, types)))
    lost = [r for r in results if r[2] == r[1] and r[3] != r[1]]
    fixed = 0
    for _, mp, _, _, (lattice, frac, types) in lost:
        cell = moyopy.Cell(lattice.tolist(), frac.tolist(), types.tolist())
        fixed += moyopy.MoyoDataset(cell, symprec=SYMPREC,
                                    angle_tolerance=math.radians(ANGLE)).number == mp
    n = len(results)
    out = {
        "benchmark": "symmetry", "command": " ".join([sys.executable, *sys.argv]),
        "machine": machine_description(), "versions": package_versions(),
        "structures": n, "symprec": SYMPREC,
        "spglib_ms_per_structure_cpu": t_spglib / n * 1e3,
        "moyopy_ms_per_structure_cpu": t_moyo / n * 1e3,
        "spglib_agrees_with_mp20": sum(r[2] == r[1] for r in results),
        "moyopy_agrees_with_mp20": sum(r[3] == r[1] for r in results),
        "moyopy_agrees_with_spglib": sum(r[3] == r[2] for r in results),
        "spglib_right_moyopy_wrong": len(lost),
        "of_those_moyopy_right_with_angle_tolerance": fixed,
        "examples_spglib_right_moyopy_wrong": [[r[0], r[1], r[3]] for r in lost[:20]],
        "decision": "spglib" if lost else "moyopy",
        "median_cell_sites": float(np.median([len(r[4][2]) for r in results])),
    }
    write_json(RESULTS, out)
    print(json.dumps({k: v for k, v in out.items() if k not in ("machine", "versions")},
                     indent=2))


if __name__ == "__main__":
    main()
