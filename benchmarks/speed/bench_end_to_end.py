"""End to end, structure files in → labelled peak database out: xrdsim vs pymatgen.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_end_to_end.py [--structures 1000]

Inputs: the first N rows of MP-20's test split as one CSV.gz of CIF text (the format
users bring), Cu 1.5418 Å, 2θ 0–120°, symprec 0.1 Å.

- ``pymatgen``: per row ``CifParser`` → ``Structure``, ``SpacegroupAnalyzer`` symmetry
  labels (what a pymatgen user computes for the labels) and
  ``XRDCalculator.get_pattern``, one core, CPU time per structure.
- ``xrdsim``: ``write_peak_database`` (files in, HDF5 out) with ``workers=1`` (one
  core, in-process) for the fast reader and for ``fast=False`` (pymatgen's parser), and
  with ``workers=2`` for the fast reader, wall time; plus the CPU time of each stage per
  structure on the fast path: read (gemmi), labels (spglib), peaks.

Writes ``benchmarks/results/end_to_end.json``. Thread pools are pinned to one thread
before numpy / numba are imported; the two-worker run starts its own processes.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("SPGLIB_WARNING", "OFF")

import argparse  # noqa: E402
import csv  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from xrdsim.files import write_json  # noqa: E402
from xrdsim.versions import machine_description, package_versions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "end_to_end.json"
DEFAULT_CSV = REPO.parent / "shared" / "data" / "structures" / "mp20_test.csv.gz"
LAMBDA = 1.5418
RANGE = (0.0, 120.0)
SYMPREC = 0.1


def _rows(path: Path, n: int) -> list[dict]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))[:n]


def _pymatgen(rows: list[dict]) -> float:
    """CPU seconds for pymatgen: parse, symmetry labels, powder pattern, per row."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.io.cif import CifParser
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    calc = XRDCalculator(wavelength=LAMBDA)
    t0 = time.process_time()
    for row in rows:
        structure = CifParser.from_str(row["cif"]).parse_structures(primitive=False)[0]
        sga = SpacegroupAnalyzer(structure, symprec=SYMPREC)
        sga.get_space_group_number()
        sga.get_conventional_standard_structure()
        calc.get_pattern(structure, two_theta_range=RANGE)
    return time.process_time() - t0


def _stages(rows: list[dict]) -> dict:
    """CPU ms per structure of each stage of the fast path."""
    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.structures.fast_cif import parse_cif_fast
    from xrdsim.structures.sources import CifSource
    from xrdsim.structures.symmetry import structure_labels

    sources = [CifSource(source=r["material_id"], structure_id=r["material_id"], text=r["cif"])
               for r in rows]
    t0 = time.process_time()
    records = [parse_cif_fast(s) for s in sources]
    t1 = time.process_time()
    records = [r for r in records if r is not None]
    for r in records:
        structure_labels(r.structure, symprec=SYMPREC)
    t2 = time.process_time()
    for r in records:
        compute_peaks(r.structure, wavelength=LAMBDA, two_theta_range=RANGE)
    t3 = time.process_time()
    n = len(rows)
    return {"read_ms": (t1 - t0) / n * 1e3, "labels_ms": (t2 - t1) / len(records) * 1e3,
            "peaks_ms": (t3 - t2) / len(records) * 1e3, "fast_path_rows": len(records)}


def _database(csv_path: Path, out: Path, *, workers: int, fast: bool) -> dict:
    from xrdsim.peaks.job import write_peak_database

    t0, c0 = time.perf_counter(), time.process_time()
    summary = write_peak_database([csv_path], out, wavelength=LAMBDA, two_theta_range=RANGE,
                                  symprec=SYMPREC, workers=workers, progress=False,
                                  overwrite=True, fast=fast)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"workers": workers, "fast": fast, "wall_s": wall, "cpu_s_main_process": cpu,
            "structures": summary.n_structures, "failed": summary.n_failed,
            "structures_per_s": summary.n_structures / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--structures", type=int, default=1000)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = _rows(args.csv, args.structures)
    _stages(rows[:20])  # compile / load the kernels before timing
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "rows.csv.gz"
        with gzip.open(csv_path, "wt", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        runs = [_database(csv_path, Path(tmp) / f"p{i}.h5", workers=w, fast=f)
                for i, (w, f) in enumerate([(1, True), (1, False), (2, True)])]
    stages = _stages(rows)
    pmg_cpu = _pymatgen(rows)
    n = len(rows)
    fast_one = runs[0]
    result = {
        "benchmark": "end_to_end", "command": " ".join([sys.executable, *sys.argv]),
        "machine": machine_description(), "versions": package_versions(),
        "structures": n, "wavelength": LAMBDA, "two_theta_range": list(RANGE),
        "symprec": SYMPREC,
        "pymatgen_ms_per_structure_cpu": pmg_cpu / n * 1e3,
        "xrdsim_runs": runs,
        "xrdsim_fast_stages_ms_cpu": stages,
        "xrdsim_fast_one_core_structures_per_s": fast_one["structures_per_s"],
        "speedup_vs_pymatgen_one_core": (pmg_cpu / n) / (fast_one["wall_s"] / n),
    }
    write_json(args.output, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "versions")},
                     indent=2))


if __name__ == "__main__":
    main()
