"""Cell sizes of the structures in peak databases, by source: atoms, volume, strongest line.

Run from the repository root:

    .venv/bin/python benchmarks/experiments/cell_sizes.py out/mp20.zarr.peaks.h5 \\
        out/mix27.zarr.peaks.h5 [--extra out/extra] [-o cell_sizes.json]

For each peak database (``xrdsim peaks`` / ``xrdsim build`` writes one beside every
store) and each source within it, prints the 10th / 50th / 90th percentiles of the
atoms per cell as read (``structures/num_sites``: MP-20's CIFs are often primitive
cells, ``xrdsim synth`` writes conventional ones), the volume in Å³ of spglib's
standardised conventional cell (the stored a, b, c, α, β, γ) and the 2θ of the
strongest line inside the network's window (5–90°, the database's wavelength;
``peaks/intensity``). Sources: ``synthetic`` for
ids of ``xrdsim synth`` (``synth-…``), the sub-folder of ``--extra`` whose CIF stem is
the id (``aflow``, ``avogadro``, as ``xrdsim sources`` writes them), ``mp20`` for the
rest. The numbers describe the structures only: nothing is trained or scored.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from xrdsim.structures.synth import is_synthetic_id

#: The 2θ window of the network's input view (degrees).
WINDOW = (5.0, 90.0)
PERCENTILES = (10, 50, 90)


def cell_volumes(a, b, c, alpha, beta, gamma) -> np.ndarray:
    """Triclinic cell volume (Å³) from lengths (Å) and angles (degrees)."""
    ca, cb, cg = (np.cos(np.radians(x)) for x in (alpha, beta, gamma))
    return a * b * c * np.sqrt(np.clip(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg, 0, None))


def strongest_lines(two_theta: np.ndarray, intensity: np.ndarray, offsets: np.ndarray,
                    window: tuple[float, float] = WINDOW) -> np.ndarray:
    """2θ of the strongest line of each structure inside ``window`` (NaN when none).

    ``offsets`` holds each structure's first peak row, plus the end as its last entry.
    """
    out = np.full(len(offsets) - 1, np.nan)
    for i, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        tt, inten = two_theta[lo:hi], intensity[lo:hi]
        inside = (tt >= window[0]) & (tt <= window[1])
        if inside.any():
            out[i] = tt[inside][np.argmax(inten[inside])]
    return out


def source_names(ids: list[str], extra: Path | None) -> list[str]:
    """``synthetic``, the ``--extra`` sub-folder holding ``<id>.cif``, or ``mp20``."""
    folders = {}
    if extra is not None:
        for cif in sorted(extra.glob("*/*.cif")):
            folders.setdefault(cif.stem, cif.parent.name)
    return ["synthetic" if is_synthetic_id(i) else folders.get(i, "mp20") for i in ids]


def _summary(values: np.ndarray) -> list[float]:
    values = values[np.isfinite(values)]
    return [round(float(v), 1) for v in np.percentile(values, PERCENTILES)] if len(values) else []


def describe(path: Path, extra: Path | None) -> dict:
    """Per-source counts and percentiles of one peak database."""
    with h5py.File(path, "r") as h5:
        s = h5["structures"]
        ids = [x.decode() if isinstance(x, bytes) else str(x) for x in s["structure_id"][:]]
        atoms = s["num_sites"][:].astype(float)
        volume = cell_volumes(*(s[k][:] for k in ("a", "b", "c", "alpha", "beta", "gamma")))
        p = h5["peaks"]
        offsets = p["offsets"][:]  # n + 1 entries: each structure's first row, then the end
        line = strongest_lines(p["two_theta"][:], p["intensity"][:], offsets)
    names = np.array(source_names(ids, extra))
    out = {}
    for name in ["all", *sorted(set(names))]:
        pick = np.ones(len(names), bool) if name == "all" else names == name
        out[name] = {"structures": int(pick.sum()), "atoms": _summary(atoms[pick]),
                     "volume": _summary(volume[pick]),
                     "strongest_line_2theta": _summary(line[pick])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("databases", type=Path, nargs="+")
    parser.add_argument("--extra", type=Path, default=None)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    result = {"percentiles": list(PERCENTILES), "window_2theta": list(WINDOW),
              "databases": {str(p): describe(p, args.extra) for p in args.databases}}
    text = json.dumps(result, indent=1)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
