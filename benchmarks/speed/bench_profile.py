"""Profile simulator throughput: patterns/s on 1 and 2 cores vs the NumPy reference.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_profile.py [--patterns 4000] [--peaks 300]

Workload: the full pipeline of each preset (train, invariance, das2025) on synthetic peak
lists of ``--peaks`` lines per pattern (positions uniform on 5–115° 2θ, intensities
exponential, scaled to max 100 like a computed peak list), 12,000 bins, float32 out,
in batches of ``--batch`` patterns (the dataset builder's shard size), best of
``--repeats``. Wall-clock rates with ``threads=1`` and ``threads=2``; CPU time per
pattern with ``threads=1`` as a figure less sensitive to other load on a shared
machine. The NumPy reference (tests/simulation/reference_profile.py) runs the same formulas
on ``--reference-patterns`` patterns. The train preset is also timed on the real peak
lists of ``--real-structures`` bundled MP-20 structures (xrdsim.peaks.lines, cycled to
``--patterns``). A peer renderer (braggcalculator) is timed when
importable, otherwise the reason is recorded.

All ops on: ``train_all_ops_synthetic`` runs the train preset with preferred orientation
active (random hkl per line, cubic / tetragonal / monoclinic cells cycled) on the
synthetic lists; ``train_all_ops_database`` runs ``simulate_database`` (mixtures and
preferred orientation from a peak database of the first ``--real-structures`` bundled
MP-20 structures, written once to a temporary file) — what dataset builds and on-the-fly
training run — and, on the same rows, without the lattice strain (its cost, CPU time per
pattern). Results: benchmarks/results/profile.json (``-o`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from xrdsim.files import write_json
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.simulation.sampling import pattern_keys, sample_parameters
from xrdsim.simulation.simulator import simulate_batch
from xrdsim.versions import machine_description, package_versions

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "profile.json"
sys.path.insert(0, str(ROOT / "tests" / "simulation"))


def peak_lists(n_patterns: int, n_peaks: int, seed: int = 0):
    g = np.random.default_rng(seed)
    tt = np.sort(g.uniform(5.0, 115.0, (n_patterns, n_peaks)), axis=1)
    inten = g.exponential(1.0, (n_patterns, n_peaks))
    inten = 100.0 * inten / inten.max(axis=1, keepdims=True)
    return tt.ravel(), inten.ravel(), np.arange(n_patterns + 1, dtype=np.int64) * n_peaks


def real_peak_lists(n_structures: int, n_patterns: int):
    """Peak lists of the first bundled MP-20 structures (xrdsim.peaks), cycled to n_patterns."""
    from importlib import resources

    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.structures.reader import read_structures

    source = str(resources.files("xrdsim.data").joinpath("default_structures.csv.gz"))
    lists = []
    for record in read_structures(source):
        if hasattr(record, "structure"):
            peaks = compute_peaks(record.structure)
            lists.append((peaks.two_theta, peaks.intensity))
        if len(lists) >= n_structures:
            break
    chosen = [lists[i % len(lists)] for i in range(n_patterns)]
    sizes = np.array([len(t) for t, _ in chosen])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    tt = np.concatenate([t for t, _ in chosen])
    return tt, np.concatenate([i for _, i in chosen]), offsets, float(sizes.mean())


def crystals(tt: np.ndarray, offsets: np.ndarray, seed: int = 0):
    """Random hkl per line and cells cycling cubic / tetragonal / monoclinic (for PO)."""
    g = np.random.default_rng(seed)
    hkl = g.integers(-4, 5, (tt.size, 3))
    hkl[(hkl == 0).all(axis=1)] = [1, 0, 0]
    kinds = np.array([[4.0, 4.0, 4.0, 90, 90, 90], [4.0, 4.0, 6.0, 90, 90, 90],
                      [5.0, 6.0, 7.0, 90, 103, 90]])  # fmt: skip
    return hkl, kinds[np.arange(offsets.size - 1) % 3]


def time_numba(config, tt, inten, offsets, *, threads, batch, repeats, hkl=None, cells=None):
    n = offsets.size - 1
    keys = np.arange(n)
    best_wall, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            a, b = offsets[lo], offsets[hi]
            simulate_batch(tt[a:b], inten[a:b], offsets[lo:hi + 1] - a, config, seed=1,
                           structure_keys=keys[lo:hi], views=0, threads=threads,
                           hkl=None if hkl is None else hkl[a:b],
                           cells=None if cells is None else cells[lo:hi])  # fmt: skip
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return n / best_wall, 1e6 * best_cpu / n


def time_database(config, db, n, *, threads, batch, repeats):
    from xrdsim.simulation.phases import simulate_database

    idx = np.arange(n) % len(db)
    best_wall, best_cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            simulate_database(db, idx[lo:hi], config, seed=1, structure_keys=np.arange(lo, hi),
                              views=np.zeros(hi - lo, np.int64), threads=threads)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return n / best_wall, 1e6 * best_cpu / n


def database_rows(n_structures, n_patterns, *, batch, repeats) -> dict:
    import tempfile
    from importlib import resources

    from xrdsim.peaks.database import PeakDatabase
    from xrdsim.peaks.job import write_peak_database
    from xrdsim.structures.reader import read_structures

    source = str(resources.files("xrdsim.data").joinpath("default_structures.csv.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        cifs = Path(tmp) / "cifs"
        cifs.mkdir()
        for i, record in enumerate(read_structures(source)):
            if i >= n_structures:
                break
            if hasattr(record, "structure"):
                record.structure.to(filename=str(cifs / f"s{i}.cif"))
        path = Path(tmp) / "peaks.h5"
        write_peak_database([str(cifs)], path, workers=1, progress=False)
        db = PeakDatabase(path)
        cfg = load_config("train")
        time_database(cfg, db, 16, threads=1, batch=16, repeats=1)  # compile
        row = {"structures": len(db), "mean_lines_per_structure":
               round(float(np.diff(db.offsets).mean()), 1)}  # fmt: skip
        for threads in (1, 2):
            rate, cpu_us = time_database(cfg, db, n_patterns, threads=threads, batch=batch,
                                         repeats=repeats)  # fmt: skip
            row[f"numba_{threads}_threads_patterns_per_s"] = round(rate, 1)
            if threads == 1:
                row["numba_cpu_us_per_pattern"] = round(cpu_us, 1)
                row["projected_2_idle_cores_patterns_per_s"] = round(2e6 / cpu_us, 1)
        # the cost of the lattice strain: the same rows without it, one thread
        plain = cfg.to_dict()
        del plain["ops"]["lattice_strain"]
        _, cpu_us = time_database(SimulationConfig.from_dict(plain), db, n_patterns, threads=1,
                                  batch=batch, repeats=repeats)  # fmt: skip
        row["without_lattice_strain_cpu_us_per_pattern"] = round(cpu_us, 1)
        db.close()
    return row


def time_reference(config, tt, inten, offsets, n):
    from reference_profile import reference_pattern

    keys = pattern_keys(1, np.arange(n), np.zeros(n, dtype=np.int64))
    params = sample_parameters(config, seed=1, structure_keys=np.arange(n), views=np.zeros(n, int))
    t0 = time.perf_counter()
    for b in range(n):
        sl = slice(offsets[b], offsets[b + 1])
        reference_pattern(tt[sl], inten[sl], config, {k: v[b] for k, v in params.items()},
                          int(keys[b]))  # fmt: skip
    return n / (time.perf_counter() - t0)


def peer() -> dict:
    try:
        import braggcalculator  # noqa: F401
    except Exception as exc:  # record why, never fail the benchmark
        return {"braggcalculator": f"not importable here: {type(exc).__name__}: {exc}"}
    return {"braggcalculator": "importable, but no profile renderer API is wired into this script"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patterns", type=int, default=4000)
    ap.add_argument("--peaks", type=int, default=300)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference-patterns", type=int, default=10)
    ap.add_argument("--presets", default="train,invariance,extrapolation,das2025")
    ap.add_argument("-o", "--output", type=Path, default=RESULTS, help="result JSON")
    ap.add_argument(
        "--real-structures",
        type=int,
        default=200,
        help="also time the train preset on this many bundled MP-20 structures",
    )
    args = ap.parse_args()

    tt, inten, offsets = peak_lists(args.patterns, args.peaks)
    load_before = os.getloadavg()
    rows = {}
    for name in args.presets.split(","):
        cfg = load_config(name)
        small = offsets[:9]
        simulate_batch(
            tt[: small[-1]],
            inten[: small[-1]],
            small,
            cfg,
            seed=0,
            structure_keys=np.arange(8),
            views=0,
        )  # compile / load cache; fmt: skip
        row = {}
        for threads in (1, 2):
            rate, cpu_us = time_numba(cfg, tt, inten, offsets, threads=threads,
                                      batch=args.batch, repeats=args.repeats)  # fmt: skip
            row[f"numba_{threads}_threads_patterns_per_s"] = round(rate, 1)
            if threads == 1:
                row["numba_cpu_us_per_pattern"] = round(cpu_us, 1)
                # what 2 otherwise idle cores would give at this CPU cost (projection)
                row["projected_2_idle_cores_patterns_per_s"] = round(2e6 / cpu_us, 1)
        ref = time_reference(cfg, tt, inten, offsets, args.reference_patterns)
        row["numpy_reference_patterns_per_s"] = round(ref, 2)
        row["speedup_2_threads_vs_reference"] = round(
            row["numba_2_threads_patterns_per_s"] / ref, 1
        )
        rows[name] = row
        print(name, json.dumps(row))
    if args.real_structures:
        rtt, rint, roff, mean_lines = real_peak_lists(args.real_structures, args.patterns)
        cfg = load_config("train")
        row = {"mean_lines_per_pattern": round(mean_lines, 1)}
        for threads in (1, 2):
            rate, cpu_us = time_numba(cfg, rtt, rint, roff, threads=threads,
                                      batch=args.batch, repeats=args.repeats)  # fmt: skip
            row[f"numba_{threads}_threads_patterns_per_s"] = round(rate, 1)
            if threads == 1:
                row["numba_cpu_us_per_pattern"] = round(cpu_us, 1)
                row["projected_2_idle_cores_patterns_per_s"] = round(2e6 / cpu_us, 1)
        rows["train_on_mp20_peaks"] = row
        print("train_on_mp20_peaks", json.dumps(row))
    hkl, cells = crystals(tt, offsets)
    cfg = load_config("train")
    row = {}
    for threads in (1, 2):
        rate, cpu_us = time_numba(cfg, tt, inten, offsets, threads=threads, batch=args.batch,
                                  repeats=args.repeats, hkl=hkl, cells=cells)  # fmt: skip
        row[f"numba_{threads}_threads_patterns_per_s"] = round(rate, 1)
        if threads == 1:
            row["numba_cpu_us_per_pattern"] = round(cpu_us, 1)
            row["projected_2_idle_cores_patterns_per_s"] = round(2e6 / cpu_us, 1)
    rows["train_all_ops_synthetic"] = row
    print("train_all_ops_synthetic", json.dumps(row))
    if args.real_structures:
        rows["train_all_ops_database"] = database_rows(
            args.real_structures, args.patterns, batch=args.batch, repeats=args.repeats)
        print("train_all_ops_database", json.dumps(rows["train_all_ops_database"]))
    result = {
        "command": "python benchmarks/speed/bench_profile.py " + " ".join(sys.argv[1:]),
        "workload": {
            "patterns": args.patterns,
            "peaks_per_pattern": args.peaks,
            "bins": 12000,
            "batch": args.batch,
            "repeats": args.repeats,
            "timing": "best of repeats",
            "peaks": "synthetic: 2θ ~ U(5, 115)°, intensity ~ Exp(1) scaled to max 100",
        },  # fmt: skip
        "machine": machine_description() | {
            "load_average_before": [round(x, 2) for x in load_before]},
        "versions": package_versions(),
        "results": rows,
        "peers": peer(),
        "target": ">= 5000 patterns/s on 2 cores, full pipeline, ~300 peaks (SPEC §6)",
    }
    write_json(args.output, result)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
