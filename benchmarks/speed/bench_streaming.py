"""Training input throughput: Zarr store → batched tensors, and on-the-fly simulation.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_streaming.py [--store dataset.zarr] [--workers 2]

Without ``--store`` a store is built first from the bundled 504 MP-20 structures
(``--views`` train views per structure, default 24 → ≈ 11,000 train patterns,
float16 as the builder stores them) in a temporary folder.

Measured (patterns/s, wall clock, after one warm-up epoch so the page cache holds
the shards — training re-reads the same store every epoch):

1. ``store``: :class:`ZarrStreamDataset` on the ``train`` split through a
   ``DataLoader(batch_size=None, num_workers=W)`` — shard shuffle + shuffle buffer,
   decompression, tensors handed to the main process, float16 → float32 — for
   W = 0 (one prefetch thread in the training process) and W = ``--workers`` processes,
   shuffled and in store order, delivering float32 made in the reader
   (``dtype="float32"``) or the store's float16 (``dtype="native"``, what the trainer
   uses: half the bytes; it converts on its device).
2. ``on_the_fly``: :class:`OnTheFlyDataset` (peak DB → ``simulate_batch`` with one
   thread per worker) through the same DataLoader, one and two views, next to the
   raw single-thread simulator on the same batches (the ceiling per worker).

Results go to ``benchmarks/results/streaming.json`` with the machine, its load
average (the development machine is shared, so absolute numbers are lower bounds)
and the package versions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from xrdsim_training.data.loader import make_loader
from xrdsim_training.data.on_the_fly import OnTheFlyDataset
from xrdsim_training.data.zarr_stream import ZarrStreamDataset

from xrdsim.files import write_json
from xrdsim.versions import machine_description, package_versions

RESULTS = Path(__file__).resolve().parents[1] / "results" / "streaming.json"
TARGET_STORE = 20_000  # patterns/s on 2 cores (SPEC §6)


def timed_epochs(dataset, *, workers: int, epochs: int) -> dict:
    """Patterns/s over ``epochs`` timed epochs after one warm-up epoch.

    ``end_to_end`` counts from creating the loader (worker start included) to the last
    batch; ``steady`` from the first batch on (what a long epoch sees). Batches are
    counted as delivered (float16 from a ``native`` float16 store: the trainer converts
    them on its device).
    """
    whole, steady, n = [], [], 0
    for epoch in range(epochs + 1):
        dataset.set_epoch(epoch)
        t0 = time.perf_counter()
        n, n_first, t_first = 0, 0, None
        for batch in make_loader(dataset, workers=workers, device=torch.device("cpu")):
            x = batch["pattern"]
            n += int(x.shape[0])
            if t_first is None:
                t_first, n_first = time.perf_counter(), n
        t1 = time.perf_counter()
        if epoch:  # epoch 0 warms the page cache, numba and the workers' imports
            whole.append(n / (t1 - t0))
            steady.append((n - n_first) / (t1 - t_first))
    return {"patterns_per_epoch": n, "epochs_timed": epochs, "delivered_dtype": str(x.dtype),
            "end_to_end_patterns_per_s": round(float(np.mean(whole)), 1),
            "steady_patterns_per_s_mean": round(float(np.mean(steady)), 1),
            "steady_patterns_per_s_best": round(float(np.max(steady)), 1)}


def raw_simulator(ds: OnTheFlyDataset, *, batches: int) -> float:
    """Single-thread simulate_batch on the dataset's own batches (patterns/s)."""
    from xrdsim.simulation.simulator import simulate_batch

    n, t0 = 0, time.perf_counter()
    for j in range(batches):
        idx, _ = ds._batch_structures(j)
        pb = ds.db.ragged(idx)
        simulate_batch(pb.two_theta, pb.intensity, pb.offsets, ds.config, seed=1,
                       structure_keys=ds.keys[idx], views=0, threads=1)
        n += len(idx)
    return n / (time.perf_counter() - t0)


def build_store(folder: Path, views: int) -> Path:
    from xrdsim.dataset.build import build_dataset

    store = folder / "bench.zarr"
    build_dataset([], store, views_train=views, views_test=2, workers=2, manifest_dir=None,
                  progress=False)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="existing dataset.zarr (else one is built)")
    parser.add_argument("--views", type=int, default=24, help="train views when building")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per setting")
    parser.add_argument("--otf-steps", type=int, default=20, help="on-the-fly batches/epoch")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_streaming_"))
    try:
        t0 = time.perf_counter()
        store = args.store or build_store(tmp, args.views)
        build_s = time.perf_counter() - t0
        results = {"store": {}, "on_the_fly": {}}
        for dtype in ("native", "float32"):
            for shuffle in (True, False):
                ds = ZarrStreamDataset(store, "train", batch_size=args.batch_size,
                                       buffer_size=4096, shuffle=shuffle, dtype=dtype)
                for w in sorted({0, args.workers}):
                    name = f"{'shuffled' if shuffle else 'ordered'}_{dtype}_workers_{w}"
                    results["store"][name] = timed_epochs(ds, workers=w, epochs=args.epochs)
        peaks = Path(str(store) + ".peaks.h5")
        for views in (1, 2):
            otf = OnTheFlyDataset(peaks, sim_config="train", batch_size=args.batch_size,
                                  views=views, steps_per_epoch=args.otf_steps)
            results["on_the_fly"][f"views_{views}_workers_{args.workers}"] = timed_epochs(
                otf, workers=args.workers, epochs=1)
        otf = OnTheFlyDataset(peaks, sim_config="train", batch_size=args.batch_size)
        raw_simulator(otf, batches=1)  # compile / warm
        results["on_the_fly"]["raw_simulate_batch_1_thread_patterns_per_s"] = round(
            raw_simulator(otf, batches=min(8, args.otf_steps)), 1)
        reader = ds.reader
        best = results["store"][f"shuffled_native_workers_{args.workers}"][
            "steady_patterns_per_s_best"]
        report = {
            "benchmark": "bench_streaming",
            "command": "python benchmarks/speed/bench_streaming.py " + " ".join(
                f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                if k not in ("output", "store") and v is not None),
            "store": {"path": "built from the bundled 504 MP-20 structures" if not args.store
                      else str(args.store), "train_patterns": reader.n_patterns,
                      "dtype": str(reader.patterns.dtype), "shard_size": reader.shard_size,
                      "chunks": list(reader.patterns.chunks),
                      "build_seconds": round(build_s, 1) if not args.store else None},
            "batch_size": args.batch_size, "workers": args.workers,
            "results": results,
            "target_store_patterns_per_s": TARGET_STORE,
            "store_target_met": best >= TARGET_STORE,
            "machine": machine_description(), "torch_threads": torch.get_num_threads(),
            "versions": package_versions(),
        }
        write_json(args.output, report)
        print(json.dumps(report["results"], indent=2))
        print(f"store, {args.workers} workers, shuffled: best {best:.0f} patterns/s "
              f"(target {TARGET_STORE}); load average {report['machine']['load_average_1_5_15']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
