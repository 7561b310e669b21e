"""Powder-indexing benchmark (issue 32): simulated patterns of known cells, the shared measured
files of known phase, and crystal-system accuracy on rruff_dev.

Run from the repository root, each part on its own (each takes a few CPU-minutes)::

    # 1. MP-20 test structures, stratified by crystal system, simulated under a preset
    #    (lattice strain, zero shift, displacement, Kα2, Kβ, impurities, ...): is the true
    #    (strained) cell among the top 3? CPU time per pattern.
    python benchmarks/experiments/bench_indexing.py simulated --per-system 40 --config train \\
        -o benchmarks/results/indexing_simulated.json [--systems cubic,tetragonal]
    python benchmarks/experiments/bench_indexing.py merge PART.json [PART.json ...] -o ALL.json

    # 2. the shared measured single-phase files whose CIF is known (measured_labels.csv)
    python benchmarks/experiments/bench_indexing.py measured [--mixtures] \\
        -o benchmarks/results/indexing_measured.json

    # 3. rruff_dev: crystal system of the best cell against labels.csv (never trained on);
    #    --run DIR adds a trained network alone and the network re-ranked by the indexing
    python benchmarks/experiments/bench_indexing.py rruff \\
        -o benchmarks/results/indexing_rruff.json [--part 1/3] [--run runs/supervised]

A cell is "the true cell" when the Niggli-reduced cells of both (primitive cells of the
centred conventional cells, or the conventional cells taken as primitive) agree: each
length within ``--length-tol`` (0.3 % simulated, 1 % measured: a measured sample's cell
need not be its CIF's) and each angle within 0.5°.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from xrdsim.files import write_json

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal",
           "cubic")
ANGLE_TOL = 0.5


def _machine() -> dict:
    import os

    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}


def cell_matches(solution, true_cell, true_centring: str, *, length_tol: float) -> bool:
    """The solution's lattice is the true one (see the module docstring)."""
    from xrdsim.indexing.cell import reduced_cell, same_lattice

    pairs = [(reduced_cell(solution.cell, solution.centring),
              reduced_cell(true_cell, true_centring)),
             (reduced_cell(solution.cell, "P"), reduced_cell(true_cell, "P"))]
    return any(same_lattice(a, b, length_rel=length_tol, angle_deg=ANGLE_TOL) for a, b in pairs)


def _centring(bravais: str) -> str:
    letter = bravais[1]
    return {"S": "C"}.get(letter, letter)


def _lattice_system(crystal_system: str, bravais: str) -> str:
    """The system an indexing can name: trigonal crystals on an hP lattice read hexagonal."""
    return "hexagonal" if crystal_system == "trigonal" and bravais == "hP" else crystal_system


# -- 1. simulated ---------------------------------------------------------------------------
def _pick(per_system: int, seed: int, systems: list[str]) -> list[dict]:
    import pandas as pd

    from xrdsim.structures.crystal_systems import crystal_system_index

    frame = pd.read_csv(SHARED / "structures" / "mp20_test.csv.gz")
    frame["_cs"] = crystal_system_index(frame["spacegroup_number_symprec0.1"].to_numpy())
    out = []
    for k, name in enumerate(SYSTEMS):
        if name not in systems:
            continue
        rows = frame[frame["_cs"] == k]
        out += rows.sample(min(per_system, len(rows)), random_state=seed + k).to_dict("records")
    return out


def _simulate(row: dict, cfg, seed: int, cache: Path | None = None):
    """(MeasuredPattern, strained true cell, its centring, labels, parameters) of one row;
    with ``cache`` (a folder) read from / written to ``CONFIG_SEED_ID.npz`` there, so that
    one simulation serves every later version of the indexing."""
    from xrdsim.measured.readers import MeasuredPattern
    from xrdsim.structures.symmetry import StructureLabels

    path = None if cache is None else cache / f"{cfg.name}_{seed}_{row['material_id']}.npz"
    if path is not None and path.is_file():
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            pattern = MeasuredPattern(two_theta=f["two_theta"], intensity=f["intensity"],
                                      sigma=None, wavelength=meta["wavelength"],
                                      source=row["material_id"], format="xy")
            return (pattern, f["cell"], meta["centring"],
                    StructureLabels.from_dict(meta["labels"]), meta["params"])
    out = _render(row, cfg, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pattern, cell, centring, labels, params = out
        meta = {"wavelength": pattern.wavelength, "centring": centring,
                "labels": labels.to_dict(), "params": params}
        np.savez_compressed(path, two_theta=pattern.two_theta, intensity=pattern.intensity,
                            cell=np.asarray(cell, dtype=np.float64), meta=json.dumps(meta))
    return out


def _render(row: dict, cfg, seed: int):
    from pymatgen.core import Structure

    import xrdsim
    from xrdsim.indexing.cell import cell_from_metric
    from xrdsim.measured.readers import MeasuredPattern
    from xrdsim.simulation import crystal_kernel as K
    from xrdsim.simulation.kernel_inputs import kernel_arguments
    from xrdsim.simulation.sampling import draw_matrix
    from xrdsim.simulation.simulator import simulate_batch, structure_key

    structure = Structure.from_str(row["cif"], fmt="cif")
    labels = xrdsim.structure_labels(structure, symprec=0.1)
    peaks = xrdsim.compute_peaks(structure, wavelength=cfg.wavelength, two_theta_range=(0, 120))
    hkl = labels.standard_miller(peaks.hkl)
    cells = np.array([labels.lattice])
    key = structure_key(row["material_id"])
    offsets = np.array([0, peaks.two_theta.size])
    res = simulate_batch(peaks.two_theta, peaks.intensity, offsets, cfg, seed=seed,
                         structure_keys=[key], views=[0], hkl=hkl, cells=cells, threads=1)
    params = {k: float(v[0]) for k, v in res.params.items()}
    cell = np.array(labels.lattice)
    amplitude = params.get("lattice_strain.amplitude", 0.0)
    if amplitude > 0:  # the strained cell the kernel used (tests/simulation/test_lattice_strain.py)
        args = kernel_arguments(peaks.two_theta, peaks.intensity, offsets, cfg,
                                lambda c, e, k: draw_matrix(c, e, seed, k), seed=seed,
                                structure_keys=[key], views=[0], hkl=hkl, cells=cells)
        draws = np.empty(K.N_STRAIN_DRAWS)
        K.strain_draws(args.keys[0], amplitude, draws)
        metric = np.empty(9)
        K.strained_metric(args.gs[0], args.mask[0], args.ops, draws, metric)
        cell, _ = cell_from_metric(metric.reshape(3, 3))
    pattern = MeasuredPattern(two_theta=xrdsim.grid_centers(),
                              intensity=res.patterns[0].astype(np.float64), sigma=None,
                              wavelength=cfg.wavelength, source=row["material_id"],
                              format="xy")
    return pattern, cell, _centring(labels.bravais_lattice), labels, params


def simulated(args: argparse.Namespace) -> dict:
    import xrdsim
    from xrdsim.indexing.index import index_pattern
    from xrdsim.indexing.settings import IndexingSettings
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    cfg = xrdsim.load_config(args.config)
    settings = IndexingSettings()
    rows = _pick(args.per_system, args.seed, args.systems.split(","))
    if args.ids:
        rows = [r for r in rows if r["material_id"] in args.ids.split(",")]
    records = []
    for i, row in enumerate(rows):
        pattern, cell, centring, labels, params = _simulate(row, cfg, args.seed, args.cache)
        system = CRYSTAL_SYSTEMS[labels.crystal_system]
        start = time.process_time()
        result = index_pattern(pattern, settings=settings)
        cpu = time.process_time() - start
        hits = [cell_matches(s, cell, centring, length_tol=args.length_tol)
                for s in result.solutions[:3]]
        best = result.best
        records.append({
            "material_id": row["material_id"], "formula": labels.formula,
            "space_group": labels.space_group, "crystal_system": system,
            "bravais_lattice": labels.bravais_lattice, "true_cell": [float(x) for x in cell],
            "cpu_seconds": round(cpu, 3), "n_lines": len(result.lines),
            "top1": bool(hits[:1] and hits[0]), "top3": bool(any(hits)),
            "best": None if best is None else {
                "system": best.crystal_system, "bravais": best.bravais_lattice,
                "cell": [round(x, 5) for x in best.cell], "m20": round(best.m20, 2),
                "n_unindexed": best.n_unindexed},
            "best_system_right": best is not None and best.crystal_system
            == _lattice_system(system, labels.bravais_lattice),
            "reason": result.reason, "boxes": result.stats["systems"].get("boxes"),
            "budget_spent": result.stats["systems"].get("budget_spent"),
            "params": {k: round(v, 5) for k, v in params.items()
                       if k.split(".")[0] in ("zero_shift", "displacement", "lattice_strain",
                                              "doublet", "impurity", "tube_lines")}})
        r = records[-1]
        print(f"[{i + 1}/{len(rows)}] {r['material_id']:<12} {system:<12} {labels.bravais_lattice} "
              f"top1 {r['top1']!s:<5} top3 {r['top3']!s:<5} {cpu:6.2f} s "
              f"{'' if best is None else best.describe()[:60]}", flush=True)
    return {"benchmark": "indexing_simulated", "command": " ".join(sys.argv),
            "config": args.config, "seed": args.seed, "length_tol": args.length_tol,
            "settings": settings.to_dict(), "machine": _machine(), "records": records,
            "summary": summarise_simulated(records)}


def summarise_simulated(records: list[dict]) -> dict:
    out: dict = {}
    for name in SYSTEMS + ("all",):
        part = [r for r in records if name in ("all", r["crystal_system"])]
        if not part:
            continue
        cpu = [r["cpu_seconds"] for r in part]
        out[name] = {"n": len(part), "top3": round(sum(r["top3"] for r in part) / len(part), 4),
                     "top1": round(sum(r["top1"] for r in part) / len(part), 4),
                     "no_solution": sum(r["best"] is None for r in part),
                     "median_cpu_seconds": round(statistics.median(cpu), 3),
                     "p90_cpu_seconds": round(float(np.percentile(cpu, 90)), 3)}
    return out


def merge(args: argparse.Namespace) -> dict:
    parts = [json.loads(Path(p).read_text()) for p in args.parts]
    records = [r for p in parts for r in p["records"]]
    return {**parts[0], "command": [p["command"] for p in parts],
            "machine": [p["machine"] for p in parts], "records": records,
            "summary": summarise_simulated(records)}


# -- 2. measured ----------------------------------------------------------------------------
def measured(args: argparse.Namespace) -> dict:
    import xrdsim
    from xrdsim.indexing.index import index_pattern
    from xrdsim.measured.readers import read_pattern
    from xrdsim.structures.reader import read_structures

    with open(HERE / "measured_labels.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if args.mixtures or r["kind"] == "single"]
    records = []
    for row in rows:
        structure = next(iter(read_structures([str(SHARED / "cifs" / row["cif"])]))).structure
        labels = xrdsim.structure_labels(structure, symprec=0.1)
        pattern = read_pattern(SHARED / "patterns" / row["file"], wavelength="CuKa")
        result = index_pattern(pattern)
        centring = _centring(labels.bravais_lattice)
        hits = [cell_matches(s, labels.lattice, centring, length_tol=args.length_tol)
                for s in result.solutions]
        rank = next((i + 1 for i, h in enumerate(hits) if h), None)
        best = result.best
        records.append({
            "file": row["file"], "kind": row["kind"], "phase": row["phase"],
            "cif": row["cif"], "cif_cell": [round(x, 4) for x in labels.lattice],
            "cif_bravais": labels.bravais_lattice, "recovered_rank": rank,
            "recovered_m20": None if rank is None else round(result.solutions[rank - 1].m20, 1),
            "best": None if best is None else {"text": best.describe(),
                                               "m20": round(best.m20, 1)},
            "reason": result.reason, "cpu_seconds": result.stats["cpu_seconds"]})
        print(f"{row['file']:<40} CIF {labels.bravais_lattice} "
              f"{np.round(labels.lattice, 3).tolist()} recovered at rank {rank}\n"
              f"   best: {best.describe() if best else result.reason}", flush=True)
    return {"benchmark": "indexing_measured", "command": " ".join(sys.argv),
            "length_tol": args.length_tol, "machine": _machine(), "records": records}


# -- 3. rruff_dev ---------------------------------------------------------------------------
def rruff(args: argparse.Namespace) -> dict:
    from xrdsim.indexing.index import index_pattern
    from xrdsim.indexing.settings import IndexingSettings
    from xrdsim.indexing.systems import rerank
    from xrdsim.measured.readers import read_pattern
    from xrdsim.structures.crystal_systems import crystal_system_name

    folder = SHARED / "patterns" / "rruff_dev"
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        labels = {r["file"]: int(r["space_group"]) for r in csv.DictReader(fh)}
    files = sorted(labels)
    k, n = (int(x) for x in args.part.split("/"))
    files = files[k - 1::n]
    if args.sample:
        pick = np.random.default_rng(args.seed).choice(len(files), min(args.sample, len(files)),
                                                       replace=False)
        files = [files[i] for i in sorted(pick)]
    settings = IndexingSettings(max_boxes=args.max_boxes)
    network = _network(args.run, [folder / f for f in files]) if args.run else {}
    records = []
    for name in files:
        result = index_pattern(read_pattern(folder / name, wavelength="CuKa"), settings=settings)
        true = crystal_system_name(labels[name])
        best = result.best
        rec = {"file": name, "true": true,
               "indexing": None if best is None else best.crystal_system,
               "conclusive": bool(best and best.conclusive),
               "m20": None if best is None else round(best.m20, 1),
               "cpu_seconds": result.stats["cpu_seconds"]}
        if name in network:
            ranking = network[name]
            rec["network"] = ranking[0]
            rec["combined"] = rerank(ranking, result)[0]
        records.append(rec)
        print(f"{name} true {true:<12} indexing {rec['indexing']!s:<12} "
              f"{'conclusive' if rec['conclusive'] else '':<10} M {rec['m20']} "
              f"{rec['cpu_seconds']:.1f} s" + (f" network {rec.get('network')} combined "
                                               f"{rec.get('combined')}" if network else ""),
              flush=True)
    return {"benchmark": "indexing_rruff", "command": " ".join(sys.argv), "part": args.part,
            "run": args.run, "settings": settings.to_dict(), "machine": _machine(),
            "records": records, "summary": summarise_rruff(records)}


def _network(run: str, files: list[Path]) -> dict[str, list[str]]:
    """Each file's crystal systems, most probable first, from a trained run or model file
    (``bundled``: the model bundled with xrdsim)."""
    from xrdsim_training.measured.predict import predict_files

    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    out = {}
    for rec in predict_files(None if run == "bundled" else run, files, wavelength="CuKa",
                             top_k=7, device="cpu"):
        if "error" not in rec:
            out[Path(rec["source"]).name] = [CRYSTAL_SYSTEMS[c["label"]] if isinstance(
                c["label"], int) else c["name"] for c in rec["crystal_system"]["top_k"]]
    return out


def summarise_rruff(records: list[dict]) -> dict:
    n = len(records)
    if not n:
        return {}
    counts = Counter(r["true"] for r in records)
    majority, n_major = counts.most_common(1)[0]
    out = {"n": n, "majority_class": majority, "majority_accuracy": round(n_major / n, 4),
           "indexing_no_solution": sum(r["indexing"] is None for r in records),
           "indexing_conclusive": sum(r["conclusive"] for r in records),
           # no solution counts as wrong
           "indexing_accuracy": round(sum(r["indexing"] == r["true"] for r in records) / n, 4),
           # no solution answers the majority class
           "indexing_or_majority_accuracy": round(sum(
               (r["indexing"] or majority) == r["true"] for r in records) / n, 4)}
    conclusive = [r for r in records if r["conclusive"]]
    if conclusive:
        out["indexing_accuracy_when_conclusive"] = round(
            sum(r["indexing"] == r["true"] for r in conclusive) / len(conclusive), 4)
    out["indexing_accuracy_ci95"] = _bootstrap([r["indexing"] == r["true"] for r in records])
    if any("network" in r for r in records):
        scored = [r for r in records if "network" in r]
        for key in ("network", "combined"):
            hits = [r[key] == r["true"] for r in scored]
            out[f"{key}_accuracy"] = round(sum(hits) / len(scored), 4)
            out[f"{key}_accuracy_ci95"] = _bootstrap(hits)
        out["combined_changed"] = sum(r["combined"] != r["network"] for r in scored)
        # paired: the same resampled files for both answers
        gain = [float(r["combined"] == r["true"]) - float(r["network"] == r["true"])
                for r in scored]
        out["combined_minus_network"] = round(sum(gain) / len(scored), 4)
        out["combined_minus_network_ci95"] = _bootstrap(gain)
    out["per_system"] = {name: {"n": c, "indexing": round(sum(
        r["indexing"] == name for r in records if r["true"] == name) / c, 4)}
        for name, c in sorted(counts.items())}
    return out


def _bootstrap(hits: list, n: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile bootstrap interval of a mean over files (a hit rate, or a paired
    difference of two), the files resampled with replacement."""
    x = np.asarray(hits, dtype=np.float64)
    means = np.random.default_rng(seed).choice(x, size=(n, x.size)).mean(axis=1)
    return [round(float(v), 4) for v in np.percentile(means, [2.5, 97.5])]


def merge_rruff(args: argparse.Namespace) -> dict:
    """Join rruff parts; a file in several parts (overlapping samples) counts once."""
    parts = [json.loads(Path(p).read_text()) for p in args.parts]
    records = list({r["file"]: r for p in parts for r in p["records"]}.values())
    return {**parts[0], "command": [p["command"] for p in parts], "part": "all",
            "machine": [p["machine"] for p in parts], "records": records,
            "summary": summarise_rruff(records)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulated", help="MP-20 test structures simulated under a preset")
    sim.add_argument("--per-system", type=int, default=40)
    sim.add_argument("--systems", default=",".join(SYSTEMS))
    sim.add_argument("--config", default="train")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--length-tol", type=float, default=0.003)
    sim.add_argument("--ids", default="",
                     help="only these material ids of the picked rows (comma-separated)")
    sim.add_argument("--cache", type=Path, default=None,
                     help="folder of simulated patterns: read when there, else written")
    mea = sub.add_parser("measured", help="shared measured files of known CIF")
    mea.add_argument("--length-tol", type=float, default=0.01)
    mea.add_argument("--mixtures", action="store_true", help="also the mixtures")
    ru = sub.add_parser("rruff", help="crystal-system accuracy on rruff_dev")
    ru.add_argument("--part", default="1/1", help="k/n: every n-th file from the k-th")
    ru.add_argument("--run", default=None, help="a trained run, model file or 'bundled': "
                    "network alone and combined")
    ru.add_argument("--sample", type=int, default=0, help="a random sample of this many files")
    ru.add_argument("--seed", type=int, default=0)
    ru.add_argument("--max-boxes", type=int, default=2_000_000,
                    help="boxes per pattern (the search's time limit)")
    for name in ("merge", "merge-rruff"):
        m = sub.add_parser(name, help="join the JSON of several parts")
        m.add_argument("parts", nargs="+")
    for p in (sim, mea, ru) + tuple(sub.choices[x] for x in ("merge", "merge-rruff")):
        p.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    run = {"simulated": simulated, "measured": measured, "rruff": rruff, "merge": merge,
           "merge-rruff": merge_rruff}[args.command]
    report(run(args), args.output)
    return 0


def report(out: dict, path: Path | None) -> None:
    """Print a result's summary; write the whole result as JSON to ``path`` (if given)."""
    if "summary" in out:
        print(json.dumps(out["summary"], indent=1))
    if path:
        write_json(path, out, indent=1)


if __name__ == "__main__":
    sys.exit(main())
