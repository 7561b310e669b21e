"""Which input view makes simulated and measured patterns of one phase look alike.

For every single-phase row of ``benchmarks/experiments/measured_labels.csv``: the measured file
(prepared onto the grid without background subtraction, max = 1) and eight ``train``-preset
views simulated from its CIF. Three ways of preparing both for the network are compared
(always windowed to 5–90° and normalised to max = 1):

- ``measured-snip``: the old default: SNIP subtracted from the measured file only
  (``xrdsim predict --background snip``), simulated views as simulated;
- ``none``: nothing subtracted on either side;
- ``view-snip``: :class:`xrdsim_training.models.view.PatternView` on both (SNIP, clip).

Reported per choice: mean cosine similarity of a measured file with the views of its own
phase and with the views of the other phases (the margin is what a classifier can use),
fraction of negative bins, and the median level (background) inside the window.

    python benchmarks/experiments/bench_view.py --data ../shared/data
    # → benchmarks/results/view_match.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from xrdsim.files import write_json

HERE = Path(__file__).resolve().parent
WINDOW = (5.0, 90.0)
VIEWS = 8


def main(argv: list[str] | None = None) -> int:
    from xrdsim_training.models.view import PatternView

    from xrdsim.grid import grid_centers
    from xrdsim.measured.prepare import prepare_pattern
    from xrdsim.measured.readers import read_pattern
    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.simulation.simulator import simulate
    from xrdsim.structures.reader import read_structures

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", default="train", help="simulation preset of the views")
    parser.add_argument("-o", "--output", type=Path,
                        default=HERE.parent / "results" / "view_match.json")
    args = parser.parse_args(argv)
    with open(HERE / "measured_labels.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "single"]
    x = grid_centers()
    win = (x >= WINDOW[0]) & (x < WINDOW[1])
    snip_view, plain_view = PatternView(WINDOW, "snip"), PatternView(WINDOW, "none")
    measured, measured_snip, sims = {}, {}, {}
    for r in rows:
        pattern = read_pattern(args.data / "patterns" / r["file"], wavelength="CuKa")
        measured[r["file"]] = prepare_pattern(pattern, background=None).pattern
        measured_snip[r["file"]] = prepare_pattern(pattern, background="snip").pattern
        (record,) = list(read_structures(args.data / "cifs" / r["cif"]))
        peaks = compute_peaks(record.structure, wavelength=1.5418)
        sims[r["file"]] = np.stack([simulate(peaks, args.config, seed=0, view=v)[0]
                                    for v in range(VIEWS)])

    def as_view(view, p):
        return view(torch.from_numpy(np.array(np.atleast_2d(p), dtype=np.float32))).numpy()

    choices = {
        "measured-snip": (lambda f: as_view(plain_view, measured_snip[f]),
                          lambda f: as_view(plain_view, sims[f])),
        "none": (lambda f: as_view(plain_view, measured[f]),
                 lambda f: as_view(plain_view, sims[f])),
        "view-snip": (lambda f: as_view(snip_view, measured[f]),
                      lambda f: as_view(snip_view, sims[f])),
    }
    out = {"command": " ".join(sys.argv), "files": [r["file"] for r in rows],
           "window": WINDOW, "views": VIEWS, "config": args.config, "choices": {}}
    for name, (meas_fn, sim_fn) in choices.items():
        own, other, neg_m, neg_s, lev_m, lev_s = [], [], [], [], [], []
        sim_views = {f: sim_fn(f) for f in sims}
        for f in sims:
            m = meas_fn(f)[0]
            inside = win & (measured[f] != 0)
            for g, views in sim_views.items():
                v = np.where(inside, views, 0.0)
                cos = v @ m / (np.linalg.norm(v, axis=1) * np.linalg.norm(m) + 1e-30)
                (own if g == f else other).extend(cos.tolist())
            neg_m.append(float((m[inside] < 0).mean()))
            neg_s.append(float((sim_views[f][:, inside] < 0).mean()))
            lev_m.append(float(np.median(m[inside])))
            lev_s.append(float(np.median(sim_views[f][:, inside])))
        out["choices"][name] = {
            "cosine_own": float(np.mean(own)), "cosine_other": float(np.mean(other)),
            "margin": float(np.mean(own) - np.mean(other)),
            "negative_bins_measured": float(np.mean(neg_m)),
            "negative_bins_simulated": float(np.mean(neg_s)),
            "median_level_measured": float(np.mean(lev_m)),
            "median_level_simulated": float(np.mean(lev_s))}
        print(name, json.dumps({k: round(v, 3) for k, v in out["choices"][name].items()}))
    write_json(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
