"""The on-the-fly simulator's `train` preset: CPU time per pattern and where it goes.

Run from the repository root (issue 28 item 5: ≥ 5,000 patterns/s on 2 idle cores):

    .venv/bin/python benchmarks/speed/bench_train_simulator.py [--patterns 600] [-o OUT.json]

Two workloads, as in the issue: the peak lists of the first ``--real-structures`` bundled
MP-20 structures (cycled to ``--patterns``) and ``--patterns`` lists of 300 random lines
(2θ ~ U(5, 115)°, :func:`bench_profile.peak_lists`). Each is rendered with the `train`
preset through :func:`~xrdsim.simulation.simulator.simulate_batch` in batches of
``--batch``; the figure is the single-thread CPU time per pattern (``time.process_time``,
best of ``--repeats``), robust to other jobs on a shared machine, and "projected" is
2 / that time, what two otherwise idle cores give (patterns share no state). The
breakdown renders the same lists with one op (or group of ops) removed: the difference
is that op's share. The load average before and after is recorded beside the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench_profile import peak_lists, real_peak_lists, time_numba

from xrdsim.files import write_json
from xrdsim.simulation.config import SimulationConfig, load_config
from xrdsim.versions import machine_description, package_versions

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train_simulator.json"
#: Ops removed together for the breakdown (their order in the render loop).
BREAKDOWN = {
    "poisson_noise": ("poisson_noise",),
    "profile (every line's window, sample broadening included)": ("profile", "sample_broadening"),
    "sample_broadening (lines wider than the instrument)": ("sample_broadening",),
    "doublet + tube_lines (Kα2, Kβ, W lines)": ("doublet", "tube_lines"),
    "pattern ops after the profile": ("transparency", "background", "amorphous", "air_scatter",
                                      "background_noise", "scan_range", "renormalize"),
}  # fmt: skip


def without(names: tuple[str, ...]) -> SimulationConfig:
    d = load_config("train").to_dict()
    for name in names:
        d["ops"].pop(name, None)
    return SimulationConfig.from_dict(d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patterns", type=int, default=600)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--real-structures", type=int, default=60)
    ap.add_argument("-o", "--output", type=Path, default=RESULTS, help="result JSON")
    args = ap.parse_args()

    workloads = {
        "mp20_line_lists": real_peak_lists(args.real_structures, args.patterns)[:3],
        "random_300_lines_5_115deg": peak_lists(args.patterns, 300),
    }
    load_before = os.getloadavg()
    rows = {}
    for name, (tt, inten, offsets) in workloads.items():
        small = offsets[:9] - offsets[0]
        row = {"mean_lines_per_pattern": round(float(tt.size) / (offsets.size - 1), 1)}
        time_numba(load_config("train"), tt[: small[-1]], inten[: small[-1]], small,
                   threads=1, batch=8, repeats=1)  # compile / load the cache; fmt: skip
        for threads in (1, 2):
            rate, cpu_us = time_numba(load_config("train"), tt, inten, offsets, threads=threads,
                                      batch=args.batch, repeats=args.repeats)  # fmt: skip
            row[f"{threads}_threads_wall_patterns_per_s"] = round(rate, 1)
            row[f"{threads}_threads_cpu_us_per_pattern"] = round(cpu_us, 1)
        row["projected_2_idle_cores_patterns_per_s"] = round(
            2e6 / row["1_threads_cpu_us_per_pattern"], 1)
        share = {}
        for label, ops in BREAKDOWN.items():
            _, cpu_us = time_numba(without(ops), tt, inten, offsets, threads=1,
                                   batch=args.batch, repeats=args.repeats)  # fmt: skip
            share[label] = round(row["1_threads_cpu_us_per_pattern"] - cpu_us, 1)
        row["cpu_us_per_pattern_of_ops_removed_one_group_at_a_time"] = share
        rows[name] = row
        print(name, json.dumps(row), flush=True)
    result = {
        "command": "python benchmarks/speed/bench_train_simulator.py " + " ".join(sys.argv[1:]),
        "workload": {"preset": "train", "patterns": args.patterns, "batch": args.batch,
                     "repeats": args.repeats, "timing": "best of repeats, CPU time",
                     "real_structures": args.real_structures},  # fmt: skip
        "machine": machine_description() | {
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "versions": package_versions(),
        "results": rows,
        "target": ">= 5000 patterns/s on 2 idle cores, train preset (issue 28 item 5)",
    }
    write_json(args.output, result)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
