"""Training throughput: where a step's time goes, the FLOP limit, and patterns/s.

Run from the repository root (a built store; ``--peaks`` adds the on-the-fly path):

    .venv/bin/python benchmarks/speed/bench_training.py --store out/mp20.zarr \\
        --peaks out/mp20.zarr.peaks.h5 --threads 1 2 -o benchmarks/results/training_throughput.json

Without ``--store`` a store is built first from the bundled 504 MP-20 structures in a
temporary folder. For each torch thread count T the script measures, on the default
network (``ModelConfig()``, batch 128, the store's own batches):

1. **stages of one step** (median over ``--steps`` steps; wall and process CPU time):
   ``read`` (the next batch of :class:`ZarrStreamDataset` with shuffle buffer, float16
   rows), ``to_float32``, ``view`` (:class:`PatternView`: window, SNIP on the 0.1° grid,
   max = 1), ``forward`` (encoder + heads on the viewed batch), ``loss``, ``backward``,
   ``optimizer`` (AdamW + gradient clipping), and per pattern: ``validation`` (inference
   on 1,024 patterns) and ``checkpoint`` (one ``save_checkpoint``);
2. **train patterns/s** of the trainer's own loop (:func:`make_loader` prefetch thread,
   ``step_loss``, backward, clip, step) over ``--steps`` steps after 3 warm-up steps;
3. **on-the-fly**: simulated ``train``-preset patterns/s of :class:`OnTheFlyDataset` in
   the main process (one numba thread), beside the network's patterns/s;
4. **the FLOP limit**: FLOPs per pattern of forward + backward (``FlopCounterMode``), the
   FLOP rate torch reaches on these cores for the network's largest convolution
   (forward + backward) and for a 1024² matmul, and the patterns/s those rates allow.

Results go to ``--output`` (JSON) with the machine, its load average at start and end,
and the package versions. The machine is shared: read the CPU times where the load is
high.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from xrdsim_training.checkpoint import save_checkpoint
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.data.loader import make_loader
from xrdsim_training.data.zarr_stream import ZarrStreamDataset
from xrdsim_training.methods import phases
from xrdsim_training.models import XrdNet
from xrdsim_training.step import step_loss

from xrdsim.files import write_json
from xrdsim.versions import machine_description, package_versions

BATCH = 128
#: The issue's target for the default network on 2 idle cores.
TARGET_PATTERNS_PER_S = 2000


class Clock:
    """Wall and process-CPU seconds of named stages, one sample per call."""

    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self._start = (0.0, 0.0)

    def start(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.samples.setdefault(name, []).append((now[0] - self._start[0],
                                                  now[1] - self._start[1]))
        self._start = now

    def medians_ms(self) -> dict[str, dict[str, float]]:
        return {k: {"wall_ms": round(1e3 * statistics.median(w for w, _ in v), 2),
                    "cpu_ms": round(1e3 * statistics.median(c for _, c in v), 2)}
                for k, v in self.samples.items()}


def _endless(data: ZarrStreamDataset, *, loader: bool = False):
    """Batches of ``data`` epoch after epoch (through the trainer's loader when asked)."""
    epoch = 0
    while True:
        data.set_epoch(epoch)
        yield from (make_loader(data, workers=0, device=torch.device("cpu")) if loader
                    else data)
        epoch += 1


def _model_and_optimizer(k: int) -> tuple[XrdNet, torch.optim.Optimizer, TrainConfig]:
    torch.manual_seed(0)
    config = TrainConfig(device="cpu", model=ModelConfig(n_extinction_groups=k))
    model = XrdNet(config.model)
    return model, torch.optim.AdamW(model.parameters(), lr=config.lr), config


def stage_profile(store: Path, *, steps: int) -> dict:
    """Median wall / CPU milliseconds of each stage of a training step (batch 128)."""
    import torch.nn.functional as F

    data = ZarrStreamDataset(store, "train", batch_size=BATCH, dtype="native")
    model, optimizer, config = _model_and_optimizer(data.n_extinction_groups)
    clock = Clock()
    batches = _endless(data)
    for i in range(steps + 2):
        clock.start()
        batch = next(batches)
        clock.lap("read")
        x = batch["pattern"].float()
        clock.lap("to_float32")
        v = model.view(x)
        clock.lap("view")
        h = model.encoder(v)
        out = model.heads(h)
        clock.lap("forward")
        loss = sum(F.cross_entropy(out[key], batch[label])
                   for key, label in (("cs", "crystal_system"), ("eg", "extinction_group")))
        clock.lap("loss")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clock.lap("backward")
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        clock.lap("optimizer")
        if i < 2:  # warm-up steps are not counted
            clock.samples.clear()
    result = clock.medians_ms()
    # validation: inference over 1,024 patterns, per pattern
    x = next(batches)["pattern"].float().repeat(8, 1)
    model.eval()
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for chunk in x.split(256):
            model(chunk)
    result["validation_per_pattern"] = {
        "wall_ms": round(1e3 * (time.perf_counter() - t0) / len(x), 4),
        "cpu_ms": round(1e3 * (time.process_time() - c0) / len(x), 4)}
    with tempfile.TemporaryDirectory() as tmp:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 1.0)
        t0, c0 = time.perf_counter(), time.process_time()
        save_checkpoint(tmp, model=model, optimizer=optimizer, scheduler=scheduler, epoch=1,
                        config=config, history=[])
        result["checkpoint"] = {"wall_ms": round(1e3 * (time.perf_counter() - t0), 2),
                                "cpu_ms": round(1e3 * (time.process_time() - c0), 2)}
    step = sum(result[k]["wall_ms"] for k in ("read", "to_float32", "view", "forward", "loss",
                                                "backward", "optimizer"))
    result["share_of_step_wall"] = {
        k: round(result[k]["wall_ms"] / step, 3)
        for k in ("read", "to_float32", "view", "forward", "loss", "backward", "optimizer")}
    return result


def trainer_loop(store: Path, *, steps: int) -> dict:
    """Patterns/s of the trainer's own loop (prefetch thread, step_loss, clip, step)."""
    data = ZarrStreamDataset(store, "train", batch_size=BATCH, dtype="native",
                             buffer_size=4096)
    model, optimizer, config = _model_and_optimizer(data.n_extinction_groups)
    phase = phases("supervised")[1]
    device = torch.device("cpu")
    n = 0
    t0 = c0 = None
    for i, batch in enumerate(_endless(data, loader=True)):
        if i == 3:
            t0, c0 = time.perf_counter(), time.process_time()
        if i == steps + 3:
            break
        loss = step_loss(model, batch, phase=phase, config=config, device=device)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if i >= 3:
            n += int(batch["pattern"].shape[0])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"patterns": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "patterns_per_s": round(n / wall, 1),
            "patterns_per_cpu_s": round(n / cpu, 1)}


def on_the_fly(peaks: Path, *, batches: int) -> dict:
    """Simulated ``train``-preset patterns/s in the main process (numba, one thread)."""
    from xrdsim_training.data.on_the_fly import OnTheFlyDataset

    data = OnTheFlyDataset(peaks, sim_config="train", batch_size=BATCH, views=1,
                           steps_per_epoch=batches + 1, seed=0)
    it = iter(data)
    next(it)  # numba compilation / cache load
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(it)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"patterns": batches * BATCH, "patterns_per_s": round(batches * BATCH / wall, 1),
            "patterns_per_cpu_s": round(batches * BATCH / cpu, 1)}


def flops_per_pattern(k: int) -> dict:
    """Forward and forward + backward FLOPs of the default network per pattern."""
    model, _, _ = _model_and_optimizer(k)
    x = torch.rand(BATCH, 12000)
    with FlopCounterMode(display=False) as fwd:
        out = model(x)
    with FlopCounterMode(display=False) as bwd:
        (out["cs"].sum() + out["eg"].sum()).backward()
    f, b = fwd.get_total_flops() / BATCH, bwd.get_total_flops() / BATCH
    return {"forward": int(f), "backward": int(b), "train_step": int(f + b)}


def flop_rate(repeats: int = 5) -> dict:
    """GFLOP/s torch reaches here: the network's largest conv (fwd + bwd) and a matmul."""
    conv = torch.nn.Conv1d(64, 64, 7, padding=3, bias=False)
    x = torch.rand(BATCH, 64, 94, requires_grad=True)
    with FlopCounterMode(display=False) as fc:
        conv(x).sum().backward()
    conv_flops = fc.get_total_flops()

    def rate(fn, flops):
        fn()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        # per wall second (all threads together) and per CPU second (one core's rate)
        return {"gflops_per_s": round(flops * repeats / wall / 1e9, 2),
                "gflops_per_cpu_s": round(flops * repeats / cpu / 1e9, 2)}

    a, b = torch.rand(1024, 1024), torch.rand(1024, 1024)
    return {"conv1d_64x64_k7_L94_fwd_bwd": rate(lambda: conv(x).sum().backward(), conv_flops),
            "matmul_1024": rate(lambda: a @ b, 2 * 1024**3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--peaks", type=Path, default=None)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "results"
                        / "training_throughput.json")
    args = parser.parse_args()
    load0 = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            from xrdsim.dataset.build import build_dataset

            store = Path(tmp) / "bundled.zarr"
            build_dataset(None, store, workers=1, manifest_dir=None, progress=False)
        k = ZarrStreamDataset(store, "train", batch_size=BATCH).n_extinction_groups
        result: dict = {"store": str(args.store or "bundled 504 structures"), "batch": BATCH,
                        "network": ModelConfig().to_dict(),
                        "flops_per_pattern": flops_per_pattern(k), "per_threads": {}}
        for threads in args.threads:
            torch.set_num_threads(threads)
            rate = flop_rate()
            step_flops = result["flops_per_pattern"]["train_step"]
            limit = {name: {k.replace("gflops", "patterns"): round(v * 1e9 / step_flops, 1)
                            for k, v in r.items()} for name, r in rate.items()}
            result["per_threads"][str(threads)] = {
                "flop_rate": rate, "patterns_per_s_at_flop_rate": limit,
                "stages": stage_profile(store, steps=args.steps),
                "trainer_loop": trainer_loop(store, steps=args.steps)}
            print(json.dumps({threads: result["per_threads"][str(threads)]["trainer_loop"]}))
        if args.peaks is not None:
            result["on_the_fly_main_process"] = on_the_fly(args.peaks, batches=args.steps)
    result.update({"target_patterns_per_s": TARGET_PATTERNS_PER_S,
                   "machine": machine_description(), "versions": package_versions(),
                   "load_average_start": load0,
                   "load_average_end": [round(x, 2) for x in os.getloadavg()]})
    write_json(args.output, result, indent=1)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
