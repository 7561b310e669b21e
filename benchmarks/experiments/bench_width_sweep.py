"""Crystal-system answers of trained runs on one structure at fixed laboratory line widths.

The failure this project started the realism work from: a run trained on narrow lines
called simulated NaCl cubic at FWHM 0.05–0.20°, monoclinic / orthorhombic at 0.3–0.4°.
This sweep simulates each CIF as a Cu laboratory scan (Kα1 + Kα2, pseudo-Voigt η
0.3–0.7, a smooth background, 5,000–20,000 counts with Poisson noise, scan 5–10° to
80–90°) at each FWHM (constant over 2θ: Caglioti W = FWHM², U = V = 0), ``--views``
views per width, and prints the share of views each run calls the CIF's own crystal
system and the mean probability of it:

    python benchmarks/experiments/bench_width_sweep.py RUN [RUN ...] \\
        --cif tests/data/hostile/cifs/good_nacl.cif \\
        --cif ../shared/data/cifs/autoxrd_examples/MnO_225.cif \\
        [--fwhm 0.05 0.1 0.2 0.3 0.4 0.6] [--views 16] [-o sweep.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from xrdsim.files import write_json

FWHM = (0.05, 0.1, 0.2, 0.3, 0.4, 0.6)


def lab_config(fwhm: float) -> dict:
    """A simulation config of a Cu laboratory scan whose lines have this FWHM (degrees)."""
    w = fwhm ** 2
    return {"name": f"lab_fwhm_{fwhm:g}", "wavelength": 1.5418, "ops": {
        "doublet": {"anode": "Cu", "ratio": {"uniform": [0.45, 0.55]}},
        "binning": {"mode": "sum"},
        "profile": {"U": {"uniform": [0.0, 1e-9]}, "V": {"uniform": [-1e-9, 0.0]},
                    "W": {"uniform": [0.98 * w, 1.02 * w]}, "P": {"uniform": [0.0, 1e-9]},
                    "eta": {"uniform": [0.3, 0.7]}, "rho": {"uniform": [-0.1, 0.1]},
                    "latin_hypercube": True, "tail_cutoff": 0.01, "positions": "exact"},
        "background": {"c0": {"uniform": [0.05, 0.1]}, "c1": {"uniform": [0.02, 0.05]},
                       "c2": {"uniform": [0.01, 0.03]}, "c3": {"uniform": [0.0, 0.02]}},
        "poisson_noise": {"counts": {"uniform": [5000.0, 20000.0]}},
        "scan_range": {"start": {"uniform": [5.0, 10.0]}, "end": {"uniform": [80.0, 90.0]}},
        "renormalize": {}}}


def sweep(runs: list[str], cifs: list[str], widths: list[float], views: int) -> dict:
    import torch
    from xrdsim_training.checkpoint import load_run
    from xrdsim_training.inference import predict
    from xrdsim_training.measured.predict import _batch

    import xrdsim
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS
    from xrdsim.structures.reader import read_structures

    models = {run: load_run(run, device="cpu")[0] for run in runs}
    results = []
    for cif in cifs:
        record = next(iter(read_structures([cif])))
        if not hasattr(record, "structure"):
            raise SystemExit(f"{cif}: {record.reason}")
        true = xrdsim.structure_labels(record.structure).crystal_system
        peaks = xrdsim.compute_peaks(record.structure, wavelength="CuKa",
                                     two_theta_range=(0, 120))
        for fwhm in widths:
            config = xrdsim.load_config(lab_config(fwhm))
            patterns = [xrdsim.simulate(peaks, config, seed=1, view=v)[0] for v in range(views)]
            batch = _batch(patterns, [None] * views)
            for run, model in models.items():
                prob = predict(model, [batch], device=torch.device("cpu")).cs_prob
                answers = np.bincount(prob.argmax(1), minlength=len(CRYSTAL_SYSTEMS))
                results.append({
                    "cif": Path(cif).name, "true": CRYSTAL_SYSTEMS[true], "fwhm": fwhm,
                    "run": run, "right": float(answers[true] / views),
                    "p_true": float(prob[:, true].mean()),
                    "answers": {CRYSTAL_SYSTEMS[i]: int(n) for i, n in enumerate(answers) if n}})
    return {"views": views, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--cif", action="append", required=True)
    parser.add_argument("--fwhm", type=float, nargs="+", default=list(FWHM))
    parser.add_argument("--views", type=int, default=16)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    report = {"command": " ".join(["python", *sys.argv]),
              **sweep(args.runs, args.cif, args.fwhm, args.views)}
    for r in report["results"]:
        print(f"{r['cif']:<20} FWHM {r['fwhm']:.2f}°  {r['run']}  "
              f"{r['true']} {r['right']:.2f} of views (p {r['p_true']:.2f})  {r['answers']}")
    if args.output:
        write_json(args.output, report)


if __name__ == "__main__":
    main()
