"""Class balance: space-group counts of MP-20 alone and of MP-20 plus a synthetic table.

Run from the repository root:

    .venv/bin/python benchmarks/experiments/synth_balance.py SYNTH.csv.gz [MP20.csv.gz ...]
        [-o docs/figures/synth_class_balance.png]

MP-20 counts come from its ``spacegroup_number_symprec0.1`` column (default: both
splits in ../shared/data/structures), synthetic counts from ``intended_space_group``
(every row of an ``xrdsim synth`` table passed spglib at symprec 0.1). Prints, for
both, the number of groups covered, the largest/smallest nonzero count and the
normalised Shannon entropy H / ln 230 of the group distribution (1 = perfectly even).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from pathlib import Path

import numpy as np

from xrdsim.plotting import pyplot, save_figure

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "structures"


def group_counts(path: Path, column: str) -> np.ndarray:
    counts = np.zeros(231, dtype=np.int64)
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            counts[int(row[column])] += 1
    return counts[1:]


def describe(counts: np.ndarray) -> dict:
    p = counts[counts > 0] / counts.sum()
    return {"structures": int(counts.sum()), "groups_covered": int((counts > 0).sum()),
            "max": int(counts.max()), "min_nonzero": int(counts[counts > 0].min()),
            "entropy_over_ln230": round(float(-(p * np.log(p)).sum() / np.log(230)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("synthetic", type=Path)
    parser.add_argument("mp20", type=Path, nargs="*",
                        default=[SHARED / "mp20_val.csv.gz", SHARED / "mp20_test.csv.gz"])
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("docs/figures/synth_class_balance.png"))
    args = parser.parse_args()
    real = sum(group_counts(p, "spacegroup_number_symprec0.1") for p in args.mp20)
    synth = group_counts(args.synthetic, "intended_space_group")
    stats = {"mp20": describe(real), "mp20_plus_synthetic": describe(real + synth),
             "synthetic": describe(synth)}
    groups = np.arange(1, 231)
    fig, ax = pyplot().subplots(figsize=(11, 3.6))
    ax.bar(groups, real + synth, width=1.0, color="tab:orange",
           label=f"MP-20 + synthetic ({stats['mp20_plus_synthetic']['groups_covered']} groups)")
    ax.bar(groups, real, width=1.0, color="tab:blue",
           label=f"MP-20 ({stats['mp20']['groups_covered']} groups)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlim(0.5, 230.5)
    ax.set_xlabel("space group")
    ax.set_ylabel("structures")
    ax.set_title(f"MP-20 ({stats['mp20']['structures']:,}) vs MP-20 + "
                 f"{stats['synthetic']['structures']:,} synthetic ({args.synthetic.name})")
    for edge in (2, 15, 74, 142, 167, 194):  # crystal-system boundaries
        ax.axvline(edge + 0.5, color="grey", lw=0.5)
    ax.legend(loc="upper right", fontsize=8)
    save_figure(fig, args.output, dpi=110)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
