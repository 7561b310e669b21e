"""Series classification speed: µs per pattern on CPU (sun2023 quotes ≈ 40 µs on an A100).

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_series.py RUN STORE [--repeats 5] [--threads 1 2]

Workload: every pattern of every series in STORE (12,000-bin model-grid patterns),
classified by the run's ConvSC-attention encoder and linear classifier in batches of
``--batch``. Timed separately: preprocessing (crop, 16× binning, min–max) and the
network + classifier, best of ``--repeats`` after one warm-up pass, with 1 and 2 torch
threads, plus CPU time per pattern on 1 thread (less sensitive to other load on a
shared machine). Results: benchmarks/results/series_inference.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from xrdsim_training.series.data import preprocess
from xrdsim_training.series.linear import linear_probabilities
from xrdsim_training.series.train import load_run

from xrdsim.files import write_json
from xrdsim.series.store import read_series, series_names
from xrdsim.versions import machine_description, package_versions

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "series_inference.json"


def _best(fn, repeats: int) -> tuple[float, float]:
    """(best wall seconds, CPU seconds of that repeat) of ``fn`` after one warm-up."""
    fn()
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        if wall < best[0]:
            best = (wall, cpu)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("store")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    cfg, encoder, clf = load_run(args.run)
    patterns = np.concatenate(
        [read_series(args.store, n).patterns for n in series_names(args.store)]
    )
    n = patterns.shape[0]
    x = preprocess(patterns, crop=cfg.crop, pool=cfg.pool)

    @torch.no_grad()
    def classify() -> None:
        for i in range(0, n, args.batch):
            h = encoder(torch.from_numpy(x[i : i + args.batch])).numpy()
            linear_probabilities(h, clf)

    out = {
        "run": args.run,
        "method": cfg.method,
        "patterns": n,
        "batch": args.batch,
        "input_length": int(x.shape[1]),
        "command": " ".join(sys.argv),
        "machine": machine_description(),
        "versions": package_versions(),
    }
    wall, _ = _best(lambda: preprocess(patterns, crop=cfg.crop, pool=cfg.pool), args.repeats)
    out["preprocess_us_per_pattern"] = 1e6 * wall / n
    for t in args.threads:
        torch.set_num_threads(t)
        wall, cpu = _best(classify, args.repeats)
        out[f"network_us_per_pattern_threads{t}"] = 1e6 * wall / n
        if t == 1:
            out["network_cpu_us_per_pattern_threads1"] = 1e6 * cpu / n
    write_json(RESULTS, out, indent=1)
    print(json.dumps({k: v for k, v in out.items() if "us" in k}, indent=1))


if __name__ == "__main__":
    main()
