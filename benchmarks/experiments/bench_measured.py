"""Measured-pattern benchmark: trained runs on the shared measured patterns of known phase.

Two commands, run from the repository root::

    # derive the labels CSV from the CIFs (xrdsim_training.measured.phases)
    python benchmarks/experiments/bench_measured.py labels --data ../shared/data

    # score neural runs (as `xrdsim predict`) and HAND runs (as `xrdsim predict`)
    python benchmarks/experiments/bench_measured.py score RUN_DIR [RUN_DIR ...] \
        --data ../shared/data \
        [--json benchmarks/results/measured_RUN.json]

    # each single-phase file against simulations of its own CIF through the same run:
    # is a wrong answer a domain gap (simulations right) or an unlearnt structure?
    python benchmarks/experiments/bench_measured.py own-cif RUN_DIR [RUN_DIR ...] \
        --data ../shared/data \
        [--views 32] [--config train] [--debye-b 0 1 2 3]

``score`` prints, per file, the true and predicted CS / EG / SG with the top-3 candidates,
then per run the top-1 and top-3 accuracies of the single-phase files and of the mixtures
(labelled by their majority phase) apart, next to the majority-class rate of the same
files (the accuracy of always answering the most common true class).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from xrdsim.errors import XrdsimError
from xrdsim.files import write_json

HERE = Path(__file__).resolve().parent
LABELS_CSV = HERE / "measured_labels.csv"
#: Measured files of ../shared/data/patterns whose phases have CIFs in ../shared/data/cifs,
#: with the phases the file name states (the labels themselves are derived from the CIFs).
#: Left out: the A-Lab reaction scans and PeakPo files (no CIF of their products), and
#: TaCr2O6 (its phases come as a FullProf .pcr, not a CIF).
PHASES: dict[str, list[str]] = {
    "autoxrd_examples/LiMnO2.xy": ["LiMnO2"],
    "autoxrd_examples/Mn2O3.xy": ["Mn2O3"],
    "autoxrd_examples/MnO.xy": ["MnO"],
    "autoxrd_examples/MnO2.xy": ["MnO2"],
    "autoxrd_examples/TiO2.xy": ["TiO2"],
    "autoxrd_examples/Li2MnO3+MnO+TiO2.xy": ["Li2MnO3", "MnO", "TiO2"],
    "autoxrd_examples/Mn2O3+LiF.xy": ["Mn2O3", "LiF"],
    "autoxrd_examples/TiO2+MnO.xy": ["TiO2", "MnO"],
    "dara_alab/CaNi(PO3)4_800_240_Ca(OH)2_(NH4)2HPO4_NiO.xy": ["CaNi(PO3)4", "NiO"],
}
#: Wavelength of files that state none (the AutoXRD and Dara .xy files are Cu Kα).
WAVELENGTH = "CuKa"
COLUMNS = ("file", "space_group", "kind", "phase", "cif", "weight_fraction", "cosine",
           "runner_up_cosine")
TASKS = ("crystal_system", "extinction_group", "space_group")
SHORT = {"crystal_system": "CS", "extinction_group": "EG", "space_group": "SG"}


def derive_rows(data: Path) -> list[dict[str, str]]:
    """One labels-CSV row per file of :data:`PHASES`: its majority phase's CIF and SG."""
    from xrdsim_training.measured.phases import identify_phases

    cif_dirs = sorted(p for p in (data / "cifs").iterdir() if p.is_dir())
    rows = []
    for name, phases in PHASES.items():
        matches = identify_phases(data / "patterns" / name, phases, cif_dirs,
                                  wavelength=WAVELENGTH)
        top = max(matches, key=lambda m: m.weight_fraction)
        rows.append({"file": name, "space_group": str(top.space_group),
                     "kind": "single" if len(phases) == 1 else "mixture", "phase": top.phase,
                     "cif": str(top.cif.relative_to(data / "cifs")),
                     "weight_fraction": f"{top.weight_fraction:.3f}",
                     "cosine": f"{top.cosine:.3f}",
                     "runner_up_cosine": f"{top.runner_up:.3f}"})
    return rows


def read_rows(path: Path = LABELS_CSV) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _truth(sg: int) -> dict[str, int]:
    from xrdsim.structures.crystal_systems import crystal_system_index
    from xrdsim.structures.extinction_table import extinction_table

    return {"crystal_system": int(crystal_system_index(sg)),
            "extinction_group": int(extinction_table().of_space_group(sg)), "space_group": sg}


def _predictions(run: Path, files: list[Path]) -> list[dict]:
    """Per file ``{task: (top-1, [top-3 labels])}`` or ``{"error": reason}``."""
    from xrdsim_training.hand import is_hand_run

    if is_hand_run(run):
        from xrdsim_training.hand import predict_hand

        records = predict_hand(run, files, wavelength=WAVELENGTH, top_k=3)
        return [r if "error" in r else
                {t: (r[t]["prediction"], [c[0] for c in r[t]["top_k"]]) for t in TASKS}
                for r in records]
    from xrdsim_training.measured.predict import predict_files

    records = predict_files(run, files, wavelength=WAVELENGTH, top_k=3, device="cpu")
    return [r if "error" in r else
            {t: (r[t]["prediction"], [c["label"] for c in r[t]["top_k"]]) for t in TASKS}
            for r in records]


def score(run: Path, data: Path, rows: list[dict[str, str]]) -> dict:
    """Per-file predictions and accuracies of one run, single phases and mixtures apart."""
    files = [data / "patterns" / r["file"] for r in rows]
    out: dict = {"run": str(run), "files": [], "groups": {}}
    for row, pred in zip(rows, _predictions(run, files), strict=True):
        out["files"].append({"file": row["file"], "kind": row["kind"],
                             "true": _truth(int(row["space_group"])), **pred})
    for kind in ("single", "mixture"):
        part = [f for f in out["files"] if f["kind"] == kind and "error" not in f]
        if not part:
            continue
        group = {"n": len(part)}
        for t in TASKS:
            truth = [f["true"][t] for f in part]
            group[t] = {"top1": sum(f[t][0] == f["true"][t] for f in part) / len(part),
                        "top3": sum(f["true"][t] in f[t][1] for f in part) / len(part),
                        "majority_class": Counter(truth).most_common(1)[0][1] / len(part)}
        out["groups"][kind] = group
    return out


def _print(result: dict) -> None:
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    print(f"\n== {result['run']}")
    for f in result["files"]:
        if "error" in f:
            print(f"  {f['file']}: error {f['error']}")
            continue
        t, cs = f["true"], f["crystal_system"]
        print(f"  {f['file']} [{f['kind']}]\n"
              f"    CS true {CRYSTAL_SYSTEMS[t['crystal_system']]:<12} pred "
              f"{CRYSTAL_SYSTEMS[cs[0]]:<12} top3 {[CRYSTAL_SYSTEMS[c][:4] for c in cs[1]]}\n"
              f"    EG true {t['extinction_group']:<4} pred {f['extinction_group'][0]:<4} "
              f"top3 {f['extinction_group'][1]}\n"
              f"    SG true {t['space_group']:<4} pred {f['space_group'][0]:<4} "
              f"top3 {f['space_group'][1]}")
    for kind, g in result["groups"].items():
        cells = "  ".join(f"{SHORT[t]} {g[t]['top1']:.2f} (top3 {g[t]['top3']:.2f}, majority "
                          f"{g[t]['majority_class']:.2f})" for t in TASKS)
        print(f"  {kind:<8} n={g['n']}: {cells}")


def own_cif(run: Path, data: Path, rows: list[dict[str, str]], *, views: int, config: str,
            debye_b: list[float]) -> list[dict]:
    """Per single-phase file: the run's CS answer on the file and on ``views`` simulations
    of its CIF (``config``, seed 1) for each overall Debye–Waller B (Å²; intensities ×
    exp(−2B sin²θ/λ²), which MP-style CIFs lack)."""
    import dataclasses

    import numpy as np
    import torch
    from xrdsim_training.checkpoint import load_run
    from xrdsim_training.inference import predict
    from xrdsim_training.measured.predict import _batch

    import xrdsim
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
    from xrdsim.structures.reader import read_structures

    model = load_run(run, device="cpu")[0]
    single = [r for r in rows if r["kind"] == "single"]
    measured = _predictions(run, [data / "patterns" / r["file"] for r in single])
    cfg = xrdsim.load_config(config)
    out = []
    for row, answer in zip(single, measured, strict=True):
        structure = next(iter(read_structures([str(data / "cifs" / row["cif"])]))).structure
        true = _truth(int(row["space_group"]))["crystal_system"]
        peaks = xrdsim.compute_peaks(structure, wavelength="CuKa", two_theta_range=(0, 120))
        stl2 = (np.sin(np.radians(peaks.two_theta / 2)) / peaks.wavelength) ** 2
        entry = {"file": row["file"], "true": CRYSTAL_SYSTEMS[true],
                 "measured": CRYSTAL_SYSTEMS[answer["crystal_system"][0]]
                 if "error" not in answer else answer["error"], "simulated": {}}
        for b in debye_b:
            damped = dataclasses.replace(peaks, intensity=peaks.intensity * np.exp(-2 * b * stl2))
            batch = _batch([xrdsim.simulate(damped, cfg, seed=1, view=v)[0]
                            for v in range(views)], [None] * views)
            calls = predict(model, [batch], device=torch.device("cpu")).cs_prob.argmax(1)
            entry["simulated"][f"B={b:g}"] = {
                "right": float(np.mean(calls == true)),
                "answers": {CRYSTAL_SYSTEMS[i]: int(n)
                            for i, n in enumerate(np.bincount(calls, minlength=7)) if n}}
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("labels", help="derive the labels CSV from the CIFs")
    lab.add_argument("--data", type=Path, required=True, help="the shared data folder")
    lab.add_argument("-o", "--output", type=Path, default=LABELS_CSV)
    sc = sub.add_parser("score", help="score runs on the labelled measured files")
    sc.add_argument("runs", nargs="+", type=Path)
    sc.add_argument("--data", type=Path, required=True, help="the shared data folder")
    sc.add_argument("--labels", type=Path, default=LABELS_CSV)
    sc.add_argument("--json", type=Path, default=None, help="write every result here")
    own = sub.add_parser("own-cif", help="each file vs simulations of its own CIF")
    own.add_argument("runs", nargs="+", type=Path)
    own.add_argument("--data", type=Path, required=True, help="the shared data folder")
    own.add_argument("--labels", type=Path, default=LABELS_CSV)
    own.add_argument("--views", type=int, default=32)
    own.add_argument("--config", default="train", help="simulation preset or YAML")
    own.add_argument("--debye-b", type=float, nargs="+", default=[0.0],
                     help="overall Debye-Waller B values (A^2) of the simulations")
    own.add_argument("--json", type=Path, default=None, help="write every result here")
    args = parser.parse_args(argv)
    if args.command == "own-cif":
        report = {"command": " ".join(sys.argv), "runs": {}}
        for run in args.runs:
            report["runs"][str(run)] = own_cif(run, args.data, read_rows(args.labels),
                                               views=args.views, config=args.config,
                                               debye_b=args.debye_b)
            for e in report["runs"][str(run)]:
                sims = "  ".join(f"{k}: {v['right']:.2f} right {v['answers']}"
                                 for k, v in e["simulated"].items())
                print(f"{run}  {e['file']:<28} true {e['true']:<12} measured "
                      f"{e['measured']:<12} {sims}")
        if args.json is not None:
            write_json(args.json, report)
        return 0
    if args.command == "labels":
        rows = derive_rows(args.data)
        with open(args.output, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.output}")
        return 0
    rows = read_rows(args.labels)
    results, failed = [], []
    for run in args.runs:  # a run that cannot be scored (no checkpoint, ...) is reported
        try:
            result = score(run, args.data, rows)
        except XrdsimError as exc:
            failed.append({"run": str(run), "error": str(exc)})
            print(f"{run}: not scored: {exc}", file=sys.stderr)
            continue
        results.append(result)
        _print(result)
    if args.json is not None:
        write_json(args.json, {"command": " ".join(sys.argv), "results": results,
                               "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
