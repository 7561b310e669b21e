"""Bragg peak lists: xrdsim.compute_peaks vs pymatgen XRDCalculator.get_pattern, one core.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_peaks.py [--structures 300] [--seed 20251122]

What is measured, per structure of a deterministic MP-20 sample (mp20_test.csv.gz rows
sorted by material_id, ``random.Random(seed).sample``), λ = 1.5418 Å, 2θ 0–120°:

- ``parse``: ``Structure.from_str(cif)`` (shared by both; no symmetry is needed for peaks).
- ``xrdsim``: ``compute_peaks(structure)`` with its defaults (Waasmaier–Kirfel f0,
  Chantler f′/f″), and ``pymatgen``: ``get_pattern(structure, two_theta_range=(0, 120))``,
  each timed once on the freshly parsed structure, interleaved (which goes first
  alternates) so machine load hits both alike.
- wall time (``perf_counter``) and CPU time of the process (``process_time``) per call;
  on a shared machine the CPU time is the steadier of the two. The ratios use the first
  (cold-cache) call of each; ``xrdsim_compute_peaks_warm_repeat`` is an immediate second
  call on the same structure, for reference.
- breakdown of our CPU time in a second pass: structure → arrays (``structure_arrays``),
  reciprocal-lattice enumeration + |F|² (``bragg_reflections``), sort + merge
  (``merge_lines``), ``PeakList`` construction; and the fused ``powder_lines`` kernel
  (enumeration + |F|² + merge + scaling in one call, what ``compute_peaks`` runs).
- the lines: with pymatgen's conventions (``form_factors="pymatgen", anomalous=False``)
  every line above 1 % of the strongest must have a partner within 0.001° 2θ and 0.5 on
  the 0–100 scale in the other list (the test criterion); mismatches counted.
- cost of the scattering model, CPU time in a third pass: ``anomalous=False``,
  pymatgen's conventions, every site with B = 0.5 Å² (``"b_iso"``), and every site with
  the same displacement as an anisotropic tensor (``"u_aniso"`` = B/8π²·1, the Uij path).
- first-call cost in fresh processes: numba compile with an empty cache directory, and
  loading from the on-disk cache (what every later process pays).

Thread pools are pinned to one thread before numpy / numba are imported.
"""

from __future__ import annotations

import os

for _var in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from xrdsim.files import write_json  # noqa: E402
from xrdsim.versions import machine_description, package_versions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "peaks.json"
DEFAULT_CSV = REPO.parent / "shared" / "data" / "structures" / "mp20_test.csv.gz"
LAMBDA = 1.5418
RANGE = (0.0, 120.0)

FIRST_CALL = """
import time, warnings
t0, c0 = time.perf_counter(), time.process_time()
from pymatgen.core import Lattice, Structure
from xrdsim.peaks.lines import compute_peaks
s = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
t1, c1 = time.perf_counter(), time.process_time()
compute_peaks(s)
t2, c2 = time.perf_counter(), time.process_time()
compute_peaks(s)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, c1 - c0, c2 - c1)
"""


def _sample(path: Path, n: int, seed: int) -> list[tuple[str, str]]:
    csv.field_size_limit(2**31 - 1)
    with gzip.open(path, "rt", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["material_id"])
    return [(r["material_id"], r["cif"]) for r in random.Random(seed).sample(rows, n)]


def _unmatched(x_a, y_a, x_b, y_b) -> int:
    bad = 0
    for t, i in zip(x_a, y_a, strict=True):
        if i > 1.0 and not ((np.abs(x_b - t) <= 1e-3) & (np.abs(y_b - i) <= 0.5)).any():
            bad += 1
    return bad


def _first_call(cache_dir: str | None) -> dict:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    imports, first, second, imports_cpu, first_cpu = (float(v) for v in out)
    return {"import_s": imports, "first_call_s": first, "second_call_s": second,
            "import_cpu_s": imports_cpu, "first_call_cpu_s": first_cpu}  # fmt: skip


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values)
    return {
        "median_ms": float(np.median(arr) * 1e3),
        "mean_ms": float(arr.mean() * 1e3),
        "total_s": float(arr.sum()),
    }


def _model_costs(structures: list, compute_peaks) -> dict:
    """CPU time per structure of compute_peaks under variants of the scattering model."""
    b = 0.5  # Å², a typical room-temperature B
    variants = {
        "default": {},
        "anomalous_off": {"anomalous": False},
        "pymatgen_conventions": {"form_factors": "pymatgen", "anomalous": False},
    }
    times: dict[str, list[float]] = {name: [] for name in (*variants, "b_iso", "u_aniso")}
    for k, structure in enumerate(structures):
        with_b = structure.copy()
        with_b.add_site_property("b_iso", [b] * len(structure))
        with_u = structure.copy()
        with_u.add_site_property("u_aniso", [np.eye(3) * b / (8 * math.pi**2)] * len(structure))
        runs = [(name, structure, kw) for name, kw in variants.items()]
        runs += [("b_iso", with_b, {}), ("u_aniso", with_u, {})]
        for name, s, kw in runs[k % len(runs):] + runs[:k % len(runs)]:  # rotate the order
            c0 = time.process_time()
            compute_peaks(s, wavelength=LAMBDA, two_theta_range=RANGE, **kw)
            times[name].append(time.process_time() - c0)
    base = float(np.sum(times["default"]))
    return {name: _stats(v) | {"total_relative_to_default": float(np.sum(v)) / base}
            for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--structures", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20251122)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    machine = machine_description() | {"threads": 1}

    with tempfile.TemporaryDirectory() as empty_cache:
        compile_cost = _first_call(empty_cache)
    cached_cost = _first_call(None)

    warnings.filterwarnings("ignore")  # pymatgen notes rounded CIF coordinates
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.core import Structure

    from xrdsim.peaks.bragg_kernel import bragg_reflections, powder_lines
    from xrdsim.peaks.lines import (
        SCALED_INTENSITY_TOL,
        TWO_THETA_TOL,
        PeakList,
        compute_peaks,
    )
    from xrdsim.peaks.merge_kernel import merge_lines
    from xrdsim.peaks.scatterers import KERNEL_ARRAYS, structure_arrays

    sample = _sample(args.csv, args.structures, args.seed)
    calc = XRDCalculator(wavelength=LAMBDA)
    warm = Structure.from_str(sample[0][1], fmt="cif")
    compute_peaks(warm)
    calc.get_pattern(warm, two_theta_range=RANGE)

    t_parse, t_ours, t_pmg, mismatched, n_lines, n_atoms, structures = [], [], [], [], [], [], []
    c_ours, c_pmg, c_ours_warm = [], [], []
    for k, (sid, cif) in enumerate(sample):
        t0 = time.perf_counter()
        structure = Structure.from_str(cif, fmt="cif")
        t_parse.append(time.perf_counter() - t0)
        for who in (0, 1) if k % 2 == 0 else (1, 0):
            c0, t0 = time.process_time(), time.perf_counter()
            if who == 0:
                ours = compute_peaks(structure, wavelength=LAMBDA, two_theta_range=RANGE)
                t_ours.append(time.perf_counter() - t0)
                c_ours.append(time.process_time() - c0)
                c0 = time.process_time()
                compute_peaks(structure, wavelength=LAMBDA, two_theta_range=RANGE)
                c_ours_warm.append(time.process_time() - c0)
            else:
                ref = calc.get_pattern(structure, scaled=True, two_theta_range=RANGE)
                t_pmg.append(time.perf_counter() - t0)
                c_pmg.append(time.process_time() - c0)
        x, y = np.asarray(ref.x), np.asarray(ref.y)
        same = compute_peaks(structure, wavelength=LAMBDA, two_theta_range=RANGE,
                             form_factors="pymatgen", anomalous=False)
        bad = _unmatched(x, y, same.two_theta, same.intensity) + _unmatched(
            same.two_theta, same.intensity, x, y
        )
        if bad:
            mismatched.append(sid)
        n_lines.append(len(ours))
        n_atoms.append(len(structure))
        structures.append(structure)

    # breakdown of our time, second pass over the same structures
    g_max = 2.0 * math.sin(math.radians(RANGE[1] / 2.0)) / LAMBDA
    parts = {"convert": [], "reflections": [], "merge": [], "peaklist": []}
    fused = []
    n_reflections = []
    clock = time.process_time  # CPU time of this process: robust on a shared machine
    for structure in structures:
        t0 = clock()
        a = structure_arrays(structure)
        t1 = clock()
        kernel_args = (a["lattice"], 0.0, g_max, LAMBDA, *(a[k] for k in KERNEL_ARRAYS))
        hkl, tt, inten = bragg_reflections(*kernel_args)
        t2 = clock()
        merge_lines(tt, inten, hkl, TWO_THETA_TOL)
        t3 = clock()
        out = powder_lines(*kernel_args, TWO_THETA_TOL, SCALED_INTENSITY_TOL)
        t4 = clock()
        PeakList(*out, wavelength=LAMBDA)
        t5 = clock()
        parts["convert"].append(t1 - t0)
        parts["reflections"].append(t2 - t1)
        parts["merge"].append(t3 - t2)
        parts["peaklist"].append(t5 - t4)
        fused.append(t4 - t3)
        n_reflections.append(len(tt))

    model = _model_costs(structures, compute_peaks)

    ours_s, pmg_s = np.asarray(t_ours), np.asarray(t_pmg)
    total_parts = sum(float(np.sum(v)) for v in parts.values())
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine | {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "versions": package_versions(),
        "settings": {
            "structures": len(sample),
            "seed": args.seed,
            "source": str(args.csv.name),
            "wavelength": LAMBDA,
            "two_theta_range": list(RANGE),
            "threads": 1,
        },
        "sample": {
            "atoms_per_cell_mean": float(np.mean(n_atoms)),
            "atoms_per_cell_max": int(np.max(n_atoms)),
            "reflections_half_sphere_mean": float(np.mean(n_reflections)),
            "lines_mean": float(np.mean(n_lines)),
        },
        "same_lines": {
            "structures_compared": len(sample),
            "structures_mismatched": len(mismatched),
            "mismatched_ids": mismatched,
        },
        "per_structure_wall": {
            "cif_parse_shared": _stats(t_parse),
            "xrdsim_compute_peaks": _stats(t_ours),
            "pymatgen_get_pattern": _stats(t_pmg),
        },
        "per_structure_cpu": {
            "xrdsim_compute_peaks": _stats(c_ours),
            "xrdsim_compute_peaks_warm_repeat": _stats(c_ours_warm),
            "pymatgen_get_pattern": _stats(c_pmg),
        },
        "speedup_wall": {
            "ratio_of_medians": float(np.median(pmg_s) / np.median(ours_s)),
            "ratio_of_totals": float(pmg_s.sum() / ours_s.sum()),
            "median_of_per_structure_ratios": float(np.median(pmg_s / ours_s)),
            "including_cif_parse_ratio_of_totals": float(
                (pmg_s.sum() + sum(t_parse)) / (ours_s.sum() + sum(t_parse))
            ),
        },
        "speedup_cpu": {
            "ratio_of_medians": float(np.median(c_pmg) / np.median(c_ours)),
            "ratio_of_totals": float(np.sum(c_pmg) / np.sum(c_ours)),
        },
        "xrdsim_breakdown": {
            name: _stats(v) | {"share": float(np.sum(v)) / total_parts} for name, v in parts.items()
        }
        | {
            "powder_lines_fused_kernel": _stats(fused),
            "symmetry": "not needed: every reciprocal point is enumerated in P1",
        },
        "scattering_model_cpu": model,
        "first_call": {
            "compile_empty_numba_cache": compile_cost,
            "load_from_numba_cache": cached_cost,
        },
    }
    write_json(args.output, result)
    keys = ("per_structure_wall", "per_structure_cpu", "speedup_wall", "speedup_cpu",
            "scattering_model_cpu")
    print(json.dumps({k: result[k] for k in (*keys, "same_lines")}, indent=2))


if __name__ == "__main__":
    main()
