"""The whole benchmark suite in one command: peers side by side, scaling curves, one table.

Run from the repository root (peers: ``pip install -e ".[bench]"``; missing ones are
skipped with the reason in the table):

    python benchmarks/speed/run_all.py            # full run, <= 15 minutes on 2 idle cores
    python benchmarks/speed/run_all.py --quick    # tiny sizes, ~1-2 minutes: checks the plumbing

Writes ``benchmarks/results/suite/``: ``summary.md`` (the tables), ``suite.json`` (every
point, fit, machine, load and versions) and ``peaks_vs_atoms.png``,
``peaks_vs_reflections.png``, ``profile_vs_peaks.png``, ``profile_vs_batch.png``,
``build_vs_structures.png``. Everything runs on one core (thread pools pinned to 1), so
ratios compare per-core work; every ratio is ours vs a peer measured in the same run.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS"):  # fmt: skip
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import peers as peer_mod  # noqa: E402
import scaling  # noqa: E402
import suite_peaks  # noqa: E402
import suite_throughput  # noqa: E402

from xrdsim.files import write_json  # noqa: E402
from xrdsim.versions import machine_description, package_versions  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "suite"
WAVELENGTH = 1.5418
RANGE = (0.0, 120.0)
SIZES = {
    "quick": {"mp20": 12, "cifs": 6, "supercell_bases": 1, "max_factor": 2, "budget_s": 8.0,
              "peaks": [10, 30, 100, 300, 1000, 3000], "batch": 16,
              "batches": [1, 2, 4, 8, 16, 32], "repeats": 2, "build": [10, 20, 40]},
    "full": {"mp20": 150, "cifs": None, "supercell_bases": 3, "max_factor": 3, "budget_s": 60.0,
             "peaks": [10, 30, 100, 300, 1000, 3000], "batch": 256,
             "batches": [1, 4, 16, 64, 256, 1024], "repeats": 3,
             "build": [100, 300, 1000, 3000, 18_093]},
}  # fmt: skip
#: Renderers of given line lists that could stand beside simulate_batch, and why none does.
RENDERERS = (
    "braggcalculator's batched `render_artifact_batch` (profile + background + noise) is the "
    "one peer renderer known; it needs Python >= 3.12, so it is skipped on this interpreter. "
    "Dans_Diffraction's `powder()` renders one crystal from its own reflections (a 1/Q² "
    "weighted, single-width pseudo-Voigt), not a given line list with the Table-1 ops, so it "
    "is not the same work and is not timed here."
)
TRIED = {
    "cif2xrd 1.0.3": "installs; its lines are pymatgen's get_pattern (plus broadening): "
    "timing it would time pymatgen twice",
    "xrayutilities 1.8.0": "installs; fundamental-parameters profile simulator with its own "
    "line-strength conventions; no line-list adapter written yet",
}


def _fmt(v, spec: str = ".3g") -> str:
    return "–" if v is None else format(v, spec)


def _peak_series(records: list[dict], names: list[str], key: str) -> dict:
    series = {}
    for name in names:
        pts = [(r[key], r["peers"][name]["cpu_s"]) for r in records
               if "cpu_s" in r["peers"].get(name, {})]  # fmt: skip
        x = [p[0] for p in pts]
        y = [p[1] for p in pts]
        series[name] = (x, y, scaling.fit_power(x, y, expected=suite_peaks.EXPECTED_EXPONENT))
    return series


def figures(result: dict, out: Path) -> None:
    recs, summ = result["peaks"]["records"], result["peaks"]["summary"]
    names = [n for n, s in summ.items() if "skipped" not in s]
    for key, label in (("atoms", "atoms per cell"), ("reflections", "reflections (half sphere)")):
        series = _peak_series(recs, names, key)
        scaling.plot(out / f"peaks_vs_{key}.png", f"Peak list, CPU time per structure vs {label}",
                     label, "CPU s per structure (one core)", series)  # fmt: skip
    prof = result["profile"]
    scaling.plot(out / "profile_vs_peaks.png",
                 f"simulate_batch (train), batch {prof['batch_for_peaks_curve']}, one thread",
                 "peaks per pattern", "CPU s per pattern",
                 {"xrdsim": ([r["peaks"] for r in prof["vs_peaks"]],
                             [r["cpu_s_per_pattern"] for r in prof["vs_peaks"]],
                             prof["fit_time_vs_peaks"])})  # fmt: skip
    scaling.plot(out / "profile_vs_batch.png", "simulate_batch (train), 300 peaks, one thread",
                 "batch size", "CPU s per pattern",
                 {"xrdsim": ([r["batch"] for r in prof["vs_batch"]],
                             [r["cpu_s_per_pattern"] for r in prof["vs_batch"]],
                             prof["fit_time_per_pattern_vs_batch"])})  # fmt: skip
    b = result["build"]
    n = [p["structures"] for p in b["points"]]
    scaling.plot(out / "build_vs_structures.png", "build_dataset end to end, workers=1",
                 "structures", "seconds",
                 {"wall": (n, [p["wall_s"] for p in b["points"]], b["fit_wall_vs_structures"]),
                  "CPU": (n, [p["cpu_s"] for p in b["points"]], b["fit_cpu_vs_structures"])},
                 )  # fmt: skip


def markdown(result: dict) -> str:
    m, mode = result["machine"], result["mode"]
    lines = [f"# Benchmark suite ({mode} run)", ""]
    if mode == "quick":
        lines += ["**Quick run: tiny sizes to check the plumbing; the numbers are not "
                  "representative.**", ""]  # fmt: skip
    lines += [
        f"Command: `{result['command']}`; {result['seconds']:.0f} s. Machine: {m.get('cpu')}, "
        f"{m.get('cores_usable')} usable cores; load average {result['load_average_start']} at "
        f"the start, {result['load_average_end']} at the end (other jobs share the machine "
        "when it is above 0). One core for every code (thread pools pinned to 1); CPU time "
        "of the process, the steadier measure on a shared machine.",
        "",
        "## Peak lists: same structures, same lines, λ = 1.5418 Å, 2θ 0–120°",
        "",
        "Every peer's lines are checked against ours (every line above 1 % has a partner within "
        "the tolerance, after joining lines closer than 0.001° in both lists) before its time "
        "counts; time = least CPU time of 3 calls. A slow peer is paced by a CPU budget "
        "spread over the size range (left out = structures it skipped). Ratio = peer CPU "
        "time / xrdsim CPU time on the structures both timed. Exponent of CPU time vs atoms "
        "per cell and vs reflections (law t ∝ atoms × reflections ∝ atoms²; per-call "
        "overhead flattens small cells).",
        "",
        "| code | version | tolerance (2θ °, I) | timed | mismatched | errors | left out "
        "(budget) | MP-20 median CPU ms | ratio vs xrdsim, MP-20 | ratio, all timed | largest "
        "cell timed (atoms) | exponent vs atoms | exponent vs reflections |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, s in result["peaks"]["summary"].items():
        if "skipped" in s:
            lines.append(f"| {name} | – | – | skipped: {s['skipped']} ||||||||||")
            continue
        tol = s["tolerance"]
        lines.append(
            f"| {name} | {s['version']} | {tol['two_theta_deg']:g}, {tol['intensity']:g} | "
            f"{s['structures_timed']} | {s['structures_mismatched']} | {s['structures_errored']}"
            f" | {s['structures_paced_out']} | {_fmt(s['mp20_median_cpu_ms'])}"
            f" | {_fmt(s['mp20_ratio_of_totals_vs_xrdsim'])}"
            f" | {_fmt(s['all_ratio_of_totals_vs_xrdsim'])} | {s['max_atoms_timed']} | "
            f"{scaling.describe(s['fit_vs_atoms'])} | {scaling.describe(s['fit_vs_reflections'])} |"
        )
    prof, b = result["profile"], result["build"]
    lines += ["", "Tried and left out: " + "; ".join(f"{k}: {v}" for k, v in TRIED.items()) + ".",
              "", "## Profile simulator (`simulate_batch`, `train` preset, one thread)", "",
              "| peaks per pattern | " + " | ".join(str(r["peaks"]) for r in prof["vs_peaks"])
              + " |", "|---|" + "---|" * len(prof["vs_peaks"]),
              "| patterns / CPU s | " + " | ".join(f"{1 / r['cpu_s_per_pattern']:.0f}"
                                                 for r in prof["vs_peaks"]) + " |", "",
              "| batch size (300 peaks) | " + " | ".join(str(r["batch"]) for r in prof["vs_batch"])
              + " |", "|---|" + "---|" * len(prof["vs_batch"]),
              "| patterns / CPU s | " + " | ".join(f"{1 / r['cpu_s_per_pattern']:.0f}"
                                                 for r in prof["vs_batch"]) + " |", "",
              f"Exponent of CPU time per pattern vs peaks: "
              f"{scaling.describe(prof['fit_time_vs_peaks'])}; vs batch size: "
              f"{scaling.describe(prof['fit_time_per_pattern_vs_batch'])}.", "",
              "## Dataset build (`build_dataset` from CIF text, workers=1)", "",
              "| structures | patterns | wall s | CPU s | structures / wall s |",
              "|---|---|---|---|---|"]  # fmt: skip
    for p in b["points"]:
        lines.append(f"| {p['structures']} | {p['patterns']} | {p['wall_s']:.1f} | "
                     f"{p['cpu_s']:.1f} | {p['structures'] / p['wall_s']:.1f} |")  # fmt: skip
    lines += ["", f"Exponent of wall time vs structures: "
              f"{scaling.describe(b['fit_wall_vs_structures'])}; of CPU time: "
              f"{scaling.describe(b['fit_cpu_vs_structures'])}. Linear fit of wall time: "
              f"{b['linear_wall']['fixed_s']:.2f} s fixed + "
              f"{b['linear_wall']['per_structure_s'] * 1e3:.1f} ms per structure.", "",
              "Figures: peaks_vs_atoms.png, peaks_vs_reflections.png, profile_vs_peaks.png, "
              "profile_vs_batch.png, build_vs_structures.png (log–log, fitted line per code).",
              ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (plumbing check)")
    ap.add_argument("--seed", type=int, default=20251122)
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args()
    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    t0 = time.perf_counter()
    load0 = [round(x, 2) for x in os.getloadavg()]

    peers = peer_mod.load_peers(WAVELENGTH, RANGE)
    print(f"[{mode}] peers: " + ", ".join(
        p.name + ("" if p.lines else f" (skipped: {p.skip_reason})") for p in peers), flush=True)
    items, failed = suite_peaks.structures(mp20=size["mp20"], seed=args.seed, cifs=size["cifs"],
                                           supercell_bases=size["supercell_bases"],
                                           max_factor=size["max_factor"])  # fmt: skip
    peaks = suite_peaks.run(peers, items, wavelength=WAVELENGTH, two_theta_max=RANGE[1],
                            budget_s=size["budget_s"])  # fmt: skip
    peaks["unreadable_cifs"] = failed
    print(f"peaks: {len(items)} structures, {time.perf_counter() - t0:.0f} s", flush=True)
    prof = suite_throughput.profile(peaks=size["peaks"], batches=size["batches"],
                                    batch=size["batch"], repeats=size["repeats"])  # fmt: skip
    print(f"profile: {time.perf_counter() - t0:.0f} s", flush=True)
    build = suite_throughput.build(sizes=size["build"])
    print(f"build: {time.perf_counter() - t0:.0f} s", flush=True)

    result = {
        "mode": mode,
        "command": " ".join(["python", *sys.argv]),
        "seconds": time.perf_counter() - t0,
        "machine": machine_description() | {"threads": 1},
        "load_average_start": load0,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "versions": package_versions(),
        "settings": {"wavelength": WAVELENGTH, "two_theta_range": list(RANGE),
                     "seed": args.seed} | size,  # fmt: skip
        "peers_tried_and_left_out": TRIED,
        "profile_peers": RENDERERS,
        "peaks": peaks,
        "profile": prof,
        "build": build,
    }
    write_json(args.output / "suite.json", result, indent=1)  # makes the folder
    figures(result, args.output)
    text = markdown(result)
    (args.output / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
