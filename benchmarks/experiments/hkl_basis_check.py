"""Do a peak database's Miller indices index its lines in the cell of its structure table?

Reads the file with plain h5py (any format version, so also files written before format
3), recomputes every line's d from its stored hkl and the table's a … γ
(1/d² = hᵀ·G*·h) and counts the lines and structures whose d is off by more than
``--rtol`` (relative), overall and per crystal system. Format 3 files should show none
(up to spglib's idealisation of pseudo-symmetric cells); format 2 indexed the lines in
the CIF's own cell, which preferred orientation then paired with the standardised cell:

    python benchmarks/experiments/hkl_basis_check.py PEAKS.h5 [PEAKS.h5 ...] [--rtol 1e-4] \
        [-o out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from xrdsim.files import write_json
from xrdsim.simulation.holohedry import reciprocal_metric
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS


def check(path: Path, rtol: float) -> dict:
    with h5py.File(path, "r") as f:
        offsets = f["peaks/offsets"][()]
        hkl = f["peaks/hkl"][()].astype(np.float64)
        d = f["peaks/d"][()]
        cells = np.stack([f[f"structures/{c}"][()] for c in
                          ("a", "b", "c", "alpha", "beta", "gamma")], axis=1)
        systems = f["structures/crystal_system"][()]
        version = int(f.attrs["format_version"])
    owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    gs = reciprocal_metric(cells)
    q = np.einsum("ni,nij,nj->n", hkl, gs[owner], hkl)
    off = np.abs(1.0 / np.sqrt(q) / d - 1.0) > rtol
    bad = np.bincount(owner, weights=off, minlength=offsets.size - 1) > 0
    return {
        "file": str(path), "format_version": version, "rtol": rtol,
        "structures": int(bad.size), "lines": int(off.size),
        "structures_off": round(float(bad.mean()), 4), "lines_off": round(float(off.mean()), 4),
        "structures_off_by_system": {CRYSTAL_SYSTEMS[k]: round(float(bad[systems == k].mean()), 4)
                                     for k in range(len(CRYSTAL_SYSTEMS)) if (systems == k).any()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    results = [check(p, args.rtol) for p in args.files]
    for r in results:
        print(json.dumps(r))
    if args.output:
        write_json(args.output, results)


if __name__ == "__main__":
    main()
