"""Where trained runs fail on structure types MP-20 lacks: accuracy by source and cell size.

``benchmarks/experiments/eval_new_structures.sh`` scores runs on a store of AFLOW prototypes and
Avogadro's COD sets (minerals, oxides, zeolites, …), pooled into one number. This script
splits that number: per pattern of the store's equivariance and invariance splits it
asks each neural run for the crystal system, extinction group and space group, and
prints the accuracy per source family (the file-name prefix of Avogadro's sets, e.g.
``zeolites__MFI.cif`` → ``zeolites``; AFLOW prototypes have none) and per number of
sites in the cell (from the store's peak database; MP-20 holds cells of 1–20 sites):

    python benchmarks/experiments/new_structures_breakdown.py STORE RUN [RUN ...] [--peaks DB] \\
        [--json out.json]

STORE is ``FOLDER/new_structures/structures.zarr``; DB defaults to STORE + ``.peaks.h5``
(the file ``xrdsim build`` writes beside it). HAND runs are skipped with a note (their
peak-finder path is scored by ``xrdsim evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: site-count bins (inclusive); MP-20's structures have 1–20 sites
SITE_BINS = ((1, 4), (5, 8), (9, 20), (21, 48), (49, 10**6))
SPLITS = ("equivariance", "invariance")
TASKS = ("crystal_system", "extinction_group", "space_group")


def family(source: str) -> str:
    """``zeolites__MFI.cif`` → ``zeolites``; an AFLOW prototype file → ``aflow``."""
    name = Path(str(source)).name
    return name.split("__", 1)[0] if "__" in name else "aflow"


def run_answers(run: Path, store: Path) -> dict[str, np.ndarray]:
    """Per pattern of the store's splits: structure index and right / wrong per task."""
    import torch
    from torch.utils.data import DataLoader
    from xrdsim_training.checkpoint import load_run
    from xrdsim_training.data.zarr_stream import ZarrStreamDataset
    from xrdsim_training.inference import predict

    model, _ = load_run(run, device="cpu")
    parts: dict[str, list[np.ndarray]] = {"structure_index": [], **{t: [] for t in TASKS}}
    for split in SPLITS:
        data = ZarrStreamDataset(store, split, batch_size=256, shuffle=False, drop_last=False,
                                 dtype="native")
        pred = predict(model, DataLoader(data, batch_size=None), device=torch.device("cpu"))
        parts["structure_index"].append(pred.labels["structure_index"])
        parts["crystal_system"].append(pred.cs_prob.argmax(1) == pred.labels["crystal_system"])
        parts["extinction_group"].append(
            pred.eg_prob.argmax(1) == pred.labels["extinction_group"])
        parts["space_group"].append(pred.sg_routed == pred.labels["space_group"])
    return {k: np.concatenate(v) for k, v in parts.items()}


def breakdown(answers: dict[str, np.ndarray], families: np.ndarray,
              sites: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """Accuracy (%) per task for every family and site bin, with the pattern counts."""
    idx = answers["structure_index"]
    groups = {f"family {f}": families[idx] == f for f in np.unique(families)}
    for lo, hi in SITE_BINS:
        label = f"sites {lo}+" if hi >= 10**6 else f"sites {lo}-{hi}"
        groups[label] = (sites[idx] >= lo) & (sites[idx] <= hi)
    groups["all"] = np.ones(idx.size, dtype=bool)
    return {name: {"n": int(sel.sum()),
                   **{t: round(100 * float(answers[t][sel].mean()), 1) for t in TASKS}}
            for name, sel in groups.items() if sel.any()}


def store_metadata(store: Path, peaks: Path) -> tuple[np.ndarray, np.ndarray]:
    """(family, number of sites) of every structure of the store, by structure id."""
    import h5py
    import zarr
    from xrdsim_training.data.store import store_structures

    ids, _ = store_structures(store)
    sources = [str(s) for s in zarr.open_group(str(store), mode="r")["structures"]["source"][:]]
    with h5py.File(peaks, "r") as f:
        db_ids = [i.decode() if isinstance(i, bytes) else str(i)
                  for i in f["structures/structure_id"][:]]
        db_sites = f["structures/num_sites"][:].tolist()
    site_of = dict(zip(db_ids, db_sites, strict=True))
    missing = [i for i in ids if i not in site_of]
    if missing:
        raise SystemExit(f"{peaks}: {len(missing)} of the store's structures are not in it "
                         f"(e.g. {missing[0]!r}); pass the peak database the store was "
                         "built from with --peaks")
    return (np.array([family(s) for s in sources]),
            np.array([site_of[i] for i in ids], dtype=np.int64))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="new_structures/structures.zarr")
    parser.add_argument("runs", type=Path, nargs="+", help="neural run folders")
    parser.add_argument("--peaks", type=Path, default=None,
                        help="peak database of the store (default STORE.peaks.h5)")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    from xrdsim_training.hand import is_hand_run

    peaks = args.peaks or args.store.with_name(args.store.name + ".peaks.h5")
    families, sites = store_metadata(args.store, peaks)
    results, paths = {}, {}
    for run in args.runs:
        if is_hand_run(run):
            print(f"{run}: a HAND run, skipped (score it with `xrdsim evaluate`)",
                  file=sys.stderr)
            continue
        results[run.name] = breakdown(run_answers(run, args.store), families, sites)
        paths[run.name] = str(run)
    if not results:
        return 1
    names = list(results)
    rows = list(next(iter(results.values())))
    print("| group | patterns | " + " | ".join(f"{n} CS / EG / SG" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for row in rows:
        cells = [" / ".join(f"{results[n][row][t]:.0f}" for t in TASKS) for n in names]
        print(f"| {row} | {results[names[0]][row]['n']} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"store": str(args.store), "peaks": str(peaks),
                                         "runs": paths, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
