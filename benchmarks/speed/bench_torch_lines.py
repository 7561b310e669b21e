"""Line stage of torch_sim (``xrdsim_training.torch_sim.lines.make_lines``) vs numba.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_torch_lines.py [--structures 120] [--batch 256]

Builds a peak database of the first ``--structures`` MP-20 test structures (Cu Kα,
0–120°) in a temporary folder, holds it on the device (:class:`DevicePeaks`), and for
every preset times, on batches of ``--batch`` random structures: the device gather with
mixture partners + kernel inputs (``DevicePeaks.kernel_inputs``), torch ``make_lines``
on the whole batch, and numba ``lines_kernel.make_lines`` called pattern by pattern on the
same arrays (single thread; the engine runs it inside ``render_batch``). Results go to
``benchmarks/results/torch_lines.json`` with the machine and its load (shared machine:
absolute numbers are lower bounds).
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from xrdsim_training.torch_sim.lines import make_lines
from xrdsim_training.torch_sim.phases import DevicePeaks

from xrdsim import PeakDatabase, write_peak_database
from xrdsim.files import write_json
from xrdsim.simulation import lines_kernel as K
from xrdsim.versions import machine_description, package_versions

PRESETS = ("das2025", "train", "invariance", "extrapolation", "series")
REPO = Path(__file__).resolve().parents[2]


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (numba compile, allocator)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def numba_lines(ki) -> None:
    a = ki._make(v.numpy() if isinstance(v, torch.Tensor) else np.array(v) for v in ki)
    a = a._replace(keys=a.keys.view(np.uint64))
    offs = a.offsets
    lx = np.empty(K.LINES_PER_PEAK * int(np.diff(offs).max(initial=0)))
    ly = np.empty_like(lx)
    for b in range(offs.size - 1):
        K.make_lines(a, offs[b], offs[b + 1], a.params[b], a.keys[b], lx, ly)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=120)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/torch_lines.json")
    opts = parser.parse_args()
    torch.set_num_threads(opts.threads)
    load0 = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        with gzip.open(opts.data / "structures" / "mp20_test.csv.gz", "rt") as fh:
            pd.read_csv(fh, nrows=opts.structures).to_csv(Path(tmp) / "s.csv", index=False)
        write_peak_database([Path(tmp) / "s.csv"], Path(tmp) / "p.h5", wavelength=1.5418,
                            two_theta_range=(0.0, 120.0), progress=False)  # fmt: skip
        with PeakDatabase(Path(tmp) / "p.h5") as db:
            t = time.perf_counter()
            dev = DevicePeaks(db, device="cpu")
            load_s = time.perf_counter() - t
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(dev), opts.batch)
    keys, views = rows * 31 + 7, np.zeros(opts.batch, np.int64)
    results = {}
    for preset in PRESETS:
        ki = dev.kernel_inputs(rows, preset, seed=1, structure_keys=keys, views=views)
        gather = best_of(lambda p=preset: dev.kernel_inputs(rows, p, seed=1, structure_keys=keys,
                                                            views=views), opts.repeats)  # fmt: skip
        torch_s = best_of(lambda k=ki: make_lines(k), opts.repeats)
        numba_s = best_of(lambda k=ki: numba_lines(k), opts.repeats)
        lines = make_lines(ki)
        results[preset] = {
            "peaks_per_pattern": round(ki.inten.shape[0] / opts.batch, 1),
            "lines_per_pattern": round(int(lines.valid.sum()) / opts.batch, 1),
            "gather_and_inputs_patterns_per_s": round(opts.batch / gather),
            "torch_make_lines_patterns_per_s": round(opts.batch / torch_s),
            "numba_make_lines_patterns_per_s": round(opts.batch / numba_s),
        }
        print(preset, results[preset], flush=True)
    out = {
        "command": f"benchmarks/speed/bench_torch_lines.py --structures {opts.structures} --batch "
                   f"{opts.batch} --repeats {opts.repeats} --threads {opts.threads}",
        "device": "cpu", "torch_threads": opts.threads, "structures": len(dev),
        "device_peaks_load_s": round(load_s, 2), "presets": results,
        "machine": machine_description() | {"load_average_start": load0,
                                            "load_average_end": [round(x, 2)
                                                                 for x in os.getloadavg()]},
        "versions": package_versions(),
    }  # fmt: skip
    write_json(opts.out, out)
    print(f"wrote {opts.out}")


if __name__ == "__main__":
    main()
