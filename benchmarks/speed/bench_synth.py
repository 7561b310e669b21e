"""Synthetic crystals: throughput of ``write_synthetic`` on a local dask cluster.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_synth.py [--per-space-group 2] [--workers 2] [--seed 0]
        [--keep out/synth_bench.csv.gz]

Generates ``per_space_group`` crystals for each of the 230 space groups (default
settings: max_atoms 100, MP-20 composition model) with ``workers`` processes and
records the wall time (cluster start included), the CPU time of the main process and of
its worker processes (``getrusage(RUSAGE_CHILDREN)``, counted once the cluster has
closed), crystals per wall second and per CPU second — on a shared machine the CPU
figure is the steady one; ``crystals_per_s_2_free_cores`` = 2 × crystals per CPU
second is what two otherwise idle cores deliver — failures and their reasons,
attempts and atoms per crystal, and the share made per crystal system. Writes
``benchmarks/results/synth.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from xrdsim.files import write_json
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_index
from xrdsim.structures.synth import SynthSettings
from xrdsim.structures.synth_job import write_synthetic
from xrdsim.versions import machine_description, package_versions

RESULTS = Path(__file__).resolve().parents[1] / "results" / "synth.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-space-group", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None,
                        help="also keep the generated CSV.gz here")
    args = parser.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "synth.csv.gz"
        t0, c0 = time.perf_counter(), time.process_time()
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = write_synthetic(out, space_groups=range(1, 231),
                                  per_space_group=args.per_space_group,
                                  settings=SynthSettings(seed=args.seed),
                                  workers=args.workers, progress=False, overwrite=True)
        wall = time.perf_counter() - t0
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (time.process_time() - c0) + (k1.ru_utime - k0.ru_utime) + (
            k1.ru_stime - k0.ru_stime)
        with gzip.open(out, "rt", newline="") as handle:
            rows = list(csv.DictReader(handle))
    attempts = np.array([int(r["attempts"]) for r in rows])
    atoms = np.array([int(r["num_atoms"]) for r in rows])
    made = Counter(CRYSTAL_SYSTEMS[crystal_system_index(int(r["intended_space_group"]))]
                   for r in rows)
    asked = Counter(CRYSTAL_SYSTEMS[crystal_system_index(g)] for g in range(1, 231)
                    for _ in range(args.per_space_group))
    result = {
        "command": "python benchmarks/speed/bench_synth.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "machine": {**machine_description(), "load_average_at_start": list(load0),
                    "load_average_at_end": list(os.getloadavg())},
        "versions": package_versions(),
        "workers": args.workers,
        "requested": summary.n_requested, "made": summary.n_structures,
        "failed": summary.n_failed, "failure_reasons": summary.failure_reasons,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "crystals_per_s": round(summary.n_structures / wall, 3),
        "crystals_per_cpu_s": round(summary.n_structures / cpu, 3),
        "crystals_per_s_2_free_cores": round(2 * summary.n_structures / cpu, 3),
        "attempts_mean": round(float(attempts.mean()), 3),
        "attempts_max": int(attempts.max()),
        "atoms_per_crystal": {"mean": round(float(atoms.mean()), 1),
                              "median": float(np.median(atoms)), "max": int(atoms.max())},
        "made_per_crystal_system": {s: f"{made[s]}/{asked[s]}" for s in CRYSTAL_SYSTEMS},
    }
    write_json(RESULTS, result)
    print(json.dumps({k: result[k] for k in ("requested", "made", "failed", "wall_s",
                                             "cpu_s", "crystals_per_s",
                                             "crystals_per_s_2_free_cores")}))


if __name__ == "__main__":
    main()
