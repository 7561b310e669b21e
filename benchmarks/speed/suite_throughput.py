"""Profile and build parts of the suite: throughput vs work, on one core.

- Profile: :func:`xrdsim.simulation.simulator.simulate_batch` with the ``train`` preset
  (full Table-1 pipeline, 12,000 bins, float32; the config loaded once, outside the
  timing), ``threads=1``, on synthetic line lists
  (2θ uniform in 10–80°, intensities uniform in 0–100, one fixed NumPy seed): CPU time
  per pattern vs peaks per pattern at a fixed batch, and vs batch size at 300 peaks.
  Best of ``repeats`` per point.
- Build: :func:`xrdsim.dataset.build.build_dataset` end to end (CIF text → symmetry and
  peaks → simulated views → compressed shards → checksums) from the first N rows of
  MP-20 (test split, then validation), ``workers=1``, default views (6 train + 2
  invariance per training structure, 2 + 2 per held-out one): wall clock and CPU time.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scaling import fit_power

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "structures"


def _lines(n_peaks: int, batch: int, rng: np.random.Generator):
    tt = rng.uniform(10.0, 80.0, size=n_peaks * batch)
    inten = rng.uniform(0.0, 100.0, size=n_peaks * batch)
    offsets = np.arange(batch + 1, dtype=np.int64) * n_peaks
    return tt, inten, offsets


def _cpu_per_pattern(n_peaks: int, batch: int, repeats: int) -> float:
    from xrdsim.simulation.config import load_config
    from xrdsim.simulation.simulator import simulate_batch

    config = load_config("train")  # loaded once, as the dataset builder does
    tt, inten, offsets = _lines(n_peaks, batch, np.random.default_rng(20251128))
    keys = np.arange(batch, dtype=np.int64)
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        simulate_batch(tt, inten, offsets, config, seed=0, structure_keys=keys, views=0,
                       threads=1)  # fmt: skip
        best = min(best, time.process_time() - c0)
    return best / batch


def profile(*, peaks: list[int], batches: list[int], batch: int, repeats: int) -> dict:
    """CPU s / pattern vs peaks per pattern (batch ``batch``) and vs batch size (300 peaks)."""
    _cpu_per_pattern(10, 2, 1)  # compile / load the kernels outside the timing
    by_peaks = [{"peaks": n, "cpu_s_per_pattern": _cpu_per_pattern(n, batch, repeats)}
                for n in peaks]  # fmt: skip
    by_batch = [{"batch": b, "cpu_s_per_pattern": _cpu_per_pattern(300, b, repeats)}
                for b in batches]  # fmt: skip
    return {
        "preset": "train",
        "threads": 1,
        "batch_for_peaks_curve": batch,
        "peaks_for_batch_curve": 300,
        "vs_peaks": by_peaks,
        "vs_batch": by_batch,
        # time = fixed per-pattern cost (12,000 bins of ops) + cost per peak: slope → 1 only
        # once the peaks dominate; throughput per pattern should not depend on the batch.
        "fit_time_vs_peaks": fit_power([r["peaks"] for r in by_peaks],
                                       [r["cpu_s_per_pattern"] for r in by_peaks], expected=1.0),
        "fit_time_per_pattern_vs_batch": fit_power(
            [r["batch"] for r in by_batch], [r["cpu_s_per_pattern"] for r in by_batch],
            expected=0.0),
    }  # fmt: skip


def _subset_csv(n: int, path: Path) -> None:
    csv.field_size_limit(2**31 - 1)
    rows: list[dict] = []
    for name in ("mp20_test.csv.gz", "mp20_val.csv.gz"):
        with gzip.open(SHARED / name, "rt", newline="") as fh:
            for row in csv.DictReader(fh):
                rows.append(row)
                if len(rows) == n:
                    break
        if len(rows) == n:
            break
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def build(*, sizes: list[int]) -> dict:
    """Wall clock and CPU time of ``build_dataset`` from N MP-20 CIFs, for each N."""
    from xrdsim.dataset.build import build_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench_suite_build_"))
    points = []
    try:
        _subset_csv(8, tmp / "warm.csv")  # compile / load every kernel outside the timing
        build_dataset([tmp / "warm.csv"], tmp / "warm.zarr", workers=1, progress=False,
                      manifest_dir=None)  # fmt: skip
        for n in sizes:
            src, out = tmp / f"s{n}.csv", tmp / f"s{n}.zarr"
            _subset_csv(n, src)
            c0, t0 = time.process_time(), time.perf_counter()
            s = build_dataset([src], out, workers=1, progress=False, manifest_dir=None)
            points.append({"structures": n, "wall_s": time.perf_counter() - t0,
                           "cpu_s": time.process_time() - c0,
                           "patterns": int(sum(s.n_patterns.values()))})  # fmt: skip
            shutil.rmtree(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = np.array([p["structures"] for p in points], dtype=float)
    wall = np.array([p["wall_s"] for p in points])
    # wall = fixed + per_structure·N (fixed: store creation, imports already paid, checksums)
    per, fixed = np.polyfit(n, wall, 1) if len(points) > 1 else (float("nan"), float("nan"))
    return {
        "workers": 1,
        "points": points,
        "linear_wall": {"fixed_s": float(fixed), "per_structure_s": float(per)},
        "fit_wall_vs_structures": fit_power([p["structures"] for p in points],
                                            [p["wall_s"] for p in points], expected=1.0),
        "fit_cpu_vs_structures": fit_power([p["structures"] for p in points],
                                           [p["cpu_s"] for p in points], expected=1.0),
    }  # fmt: skip
