"""torch_sim render stage throughput on the CPU: patterns/s of ``render_lines``.

Run from the repository root:

    .venv/bin/python benchmarks/speed/bench_torch_sim_render.py [--patterns 256] [--batch 64]

Workload: the train preset on synthetic peak lists of ``--peaks`` lines per pattern
(as ``bench_profile.py``: 2θ ~ U(5, 115)°, intensities exponential scaled to max 100,
random hkl and cycled cells so preferred orientation is active). The lines are made once
by the numba ``make_lines`` (not timed); ``render_lines`` then renders them in batches of
``--batch``, best of ``--repeats`` (wall and CPU time), once per ``--threads`` value
(torch and numba threads). For scale, the numba ``render_batch`` (make_lines + render)
runs on the same inputs. First, one batch of ``--memory-patterns`` patterns of
``--memory-peaks`` peaks (~1,200 lines each) is rendered once, single-threaded, and
the peak resident memory above the resident memory before it is recorded. On a shared,
oversubscribed 2-core box torch's OpenMP threads spin against each other, so 1 thread
can beat 2: both are recorded.
Results: benchmarks/results/torch_sim_render_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch

from xrdsim.files import write_json
from xrdsim.versions import machine_description, package_versions

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "torch_sim_render_cpu.json"
sys.path.insert(0, str(ROOT / "tests" / "training" / "torch_sim"))
sys.path.insert(0, str(ROOT / "benchmarks" / "speed"))

from bench_profile import crystals, peak_lists  # noqa: E402
from torch_sim_cases import (  # noqa: E402
    kernel_case,
    numba_lines,
    numba_render,
    torch_render,
)


def _best(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def _cases(n_patterns: int, n_peaks: int, batch: int) -> tuple[list, list]:
    """Numba kernel inputs and numba lines of the train preset, in batches."""
    tt, inten, offs = peak_lists(n_patterns, n_peaks)
    hkl, cells = crystals(tt, offs)
    peaks = [(tt[offs[b]:offs[b + 1]], inten[offs[b]:offs[b + 1]], hkl[offs[b]:offs[b + 1]],
              cells[b]) for b in range(n_patterns)]  # fmt: skip
    cases = [kernel_case("train", peaks[lo : lo + batch], views=(0,))
             for lo in range(0, n_patterns, batch)]
    return cases, [numba_lines(c) for c in cases]


def _current_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _memory(n_patterns: int, n_peaks: int) -> dict:
    """Peak resident memory above the current one while rendering one batch of
    n_patterns (1 torch thread); run first, before any larger peak could hide it."""
    torch.set_num_threads(1)
    (case,), (lines,) = _cases(n_patterns, n_peaks, n_patterns)
    ref = numba_render(case)
    before = _current_rss_kib()
    w0 = time.perf_counter()
    got = torch_render(case, lines)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"patterns": n_patterns, "peaks_per_pattern": n_peaks,
            "lines_per_pattern_mean": round(float(lines.valid.sum(1).double().mean()), 1),
            "wall_s": round(wall, 2), "peak_rss_increase_mib": round((after - before) / 1024, 1),
            "equal_to_numba": bool(np.array_equal(got, ref))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patterns", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--peaks", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true",
                    help="also time render_lines(compile_profile=True) on 1 thread")
    ap.add_argument("--memory-patterns", type=int, default=256)
    ap.add_argument("--memory-peaks", type=int, default=600)
    args = ap.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    memory = _memory(args.memory_patterns, args.memory_peaks)
    cases, lines = _cases(args.patterns, args.peaks, args.batch)
    ref = np.concatenate([numba_render(c) for c in cases])
    runs = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        numba.set_num_threads(threads)
        torch_render(cases[0], lines[0])  # warm up
        out: list[np.ndarray] = []

        def run_torch(out=out) -> None:
            out.clear()
            out.extend(torch_render(c, ln) for c, ln in zip(cases, lines, strict=True))

        wall, cpu = _best(run_torch, args.repeats)
        n_wall, n_cpu = _best(lambda: [numba_render(c) for c in cases], args.repeats)
        got = np.concatenate(out)
        runs.append({
            "threads": threads,
            "torch_render_lines": {"patterns_per_s": round(args.patterns / wall, 1),
                                   "cpu_ms_per_pattern": round(1e3 * cpu / args.patterns, 2)},
            "numba_render_batch_incl_make_lines": {
                "patterns_per_s": round(args.patterns / n_wall, 1),
                "cpu_ms_per_pattern": round(1e3 * n_cpu / args.patterns, 2)},
            "max_relative_difference": float((np.abs(got - ref).max(1)
                                              / np.abs(ref).max(1)).max()),
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        })
    if args.compile:
        torch.set_num_threads(1)
        torch_render(cases[0], lines[0], compile_profile=True)  # compiles
        out = []

        def run_compiled() -> None:
            out.clear()
            out.extend(torch_render(c, ln, compile_profile=True)
                       for c, ln in zip(cases, lines, strict=True))

        wall, cpu = _best(run_compiled, args.repeats)
        runs.append({"threads": 1, "compile_profile": True, "torch_render_lines": {
            "patterns_per_s": round(args.patterns / wall, 1),
            "cpu_ms_per_pattern": round(1e3 * cpu / args.patterns, 2)},
            "max_relative_difference": float((np.abs(np.concatenate(out) - ref).max(1)
                                              / np.abs(ref).max(1)).max()),
            "load_average_after": [round(x, 2) for x in os.getloadavg()]})
    n_lines = float(np.mean([ln.valid.sum(1).double().mean().item() for ln in lines]))
    result = {
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "workload": {"preset": "train", "patterns": args.patterns, "batch": args.batch,
                     "peaks_per_pattern": args.peaks, "lines_per_pattern_mean": round(n_lines, 1),
                     "repeats": args.repeats,
                     "timing": "best of repeats; lines made once by numba make_lines, untimed"},
        "runs": runs,
        "one_large_batch_1_thread": memory,
        "load_average_before": load_before,
        "machine": machine_description(),
        "versions": {**package_versions(), "torch": torch.__version__},
    }
    write_json(RESULTS, result)
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
