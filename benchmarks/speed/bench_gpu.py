"""Throughput on a device: torch_sim patterns/s and training patterns/s (issue 12).

Run from the repository root (``benchmarks/experiments/gpu_run.sh`` runs it first):

    python benchmarks/speed/bench_gpu.py --peaks PEAKS.h5 --device cuda -o results/gpu_bench.json

1. **Simulation**: :func:`xrdsim_training.torch_sim.render` of the inputs gathered from the peak
   database held on the device (:class:`DevicePeaks`), presets ``train`` and ``das2025``,
   batches of ``--sim-batch`` structures drawn in order from the database; best of
   ``--repeats`` timed batches after one warm-up batch (CUDA synchronised), patterns/s and
   the mean number of peaks per pattern. ``--compile`` also times ``compile_profile=True``.
2. **Training**: forward + backward + AdamW step of :class:`XrdNet` on random patterns,
   the default network (width 8, depth 5) and the das2025-size one (width 32, depth 4),
   bfloat16 autocast on CUDA, batch ``--train-batch``; patterns/s.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from xrdsim_training.config import ModelConfig
from xrdsim_training.models import XrdNet
from xrdsim_training.torch_sim import DevicePeaks, render

from xrdsim import PeakDatabase
from xrdsim.files import write_json
from xrdsim.simulation.config import load_config
from xrdsim.simulation.simulator import structure_key
from xrdsim.versions import machine_description, package_versions

NETWORKS = {"default (width 8, depth 5)": ModelConfig(),
            "das2025-size (width 32, depth 4)": ModelConfig(width=32, depth=4)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_simulation(peaks: DevicePeaks, db: PeakDatabase, keys: np.ndarray, *, preset: str,
                     batch: int, repeats: int, device: torch.device, compile_profile: bool
                     ) -> dict:
    config = load_config(preset)
    n = len(db)
    best = float("inf")
    for r in range(repeats + 1):
        rows = (np.arange(batch) + r * batch) % n
        _sync(device)
        t = time.perf_counter()
        # as the training path (DeviceOnTheFlyDataset): inputs on the device, then render
        inputs = peaks.kernel_inputs(rows, config, seed=r, structure_keys=keys[rows],
                                     views=np.zeros(batch, np.int64))
        patterns = render(inputs, compile_profile=compile_profile)
        _sync(device)
        if r:  # the first batch warms up (allocator, kernels, compilation)
            best = min(best, time.perf_counter() - t)
        assert patterns.shape == (batch, 12000)
    counts = np.diff(db.ragged(np.arange(min(n, batch))).offsets)
    return {"preset": preset, "batch": batch, "compile_profile": compile_profile,
            "seconds_per_batch": best, "patterns_per_s": batch / best,
            "mean_peaks_per_structure": float(counts.mean())}


def bench_training(model: ModelConfig, *, batch: int, steps: int, device: torch.device) -> dict:
    net = XrdNet(ModelConfig(**{**model.to_dict(), "n_extinction_groups": 112})).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 12000, device=device)
    y = torch.randint(0, 7, (batch,), device=device)
    amp = device.type == "cuda"
    best = float("inf")
    for s in range(steps + 1):
        _sync(device)
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = net(x)
            logits = out["cs"] if isinstance(out, dict) else out[0]
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if s:
            best = min(best, time.perf_counter() - t)
    n_params = sum(p.numel() for p in net.parameters())
    return {"batch": batch, "bf16_autocast": amp, "parameters": n_params,
            "seconds_per_step": best, "patterns_per_s": batch / best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peaks", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sim-batch", type=int, default=4096)
    parser.add_argument("--train-batch", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    device = torch.device(args.device)
    db = PeakDatabase(args.peaks)
    keys = np.array([structure_key(str(s)) for s in db.labels["structure_id"]], np.int64)
    started = time.perf_counter()
    peaks = DevicePeaks(db, device=device)
    result = {
        "command": "python benchmarks/speed/bench_gpu.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v not in (False,)),
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
        "machine": machine_description(), "versions": package_versions(),
        "load_average": os.getloadavg(), "structures": len(db),
        "peak_database_to_device_s": time.perf_counter() - started,
        "simulation": [], "training": {},
    }
    for preset in ("train", "das2025"):
        for compile_profile in ((False, True) if args.compile else (False,)):
            row = bench_simulation(peaks, db, keys, preset=preset, batch=args.sim_batch,
                                   repeats=args.repeats, device=device,
                                   compile_profile=compile_profile)
            result["simulation"].append(row)
            print(f"simulate {preset:8s} compile={compile_profile!s:5s} "
                  f"{row['patterns_per_s']:12,.0f} patterns/s", flush=True)
    for name, model in NETWORKS.items():
        row = bench_training(model, batch=args.train_batch, steps=args.repeats, device=device)
        result["training"][name] = row
        print(f"train {name:34s} {row['patterns_per_s']:10,.0f} patterns/s", flush=True)
    write_json(args.output, result)


if __name__ == "__main__":
    main()
