"""The transfer table (das2025 Table 2 shape plus extrapolation and measured columns).

Reads what ``benchmarks/experiments/train_transfer_cpu.sh`` or
``benchmarks/experiments/gpu_run.sh`` left in a run folder: each run's ``eval.json``
(``xrdsim evaluate``), ``measured.json``
(``benchmarks/experiments/bench_measured.py score``) and the store, whose labels give the
majority-class row (the rate of always answering a split's most common class, over the
whole split). With ``--new-structures`` a column "new structure types" pools the
equivariance and invariance reports that ``benchmarks/experiments/eval_new_structures.sh`` wrote
(``RUN_FOLDER/new_structures/RUN.json``, structures MP-20 lacks). Prints a Markdown table
(CS / EG / SG accuracy in %) and writes JSON:

    python benchmarks/experiments/transfer_table.py RUN_FOLDER --store RUN_FOLDER/mp20.zarr \\
        --runs hand supervised supervised-aug barlow simclr -o RUN_FOLDER/table.json \\
        [--new-structures RUN_FOLDER/new_structures]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import zarr

from xrdsim.files import write_json

SPLITS = ("equivariance", "invariance", "held_out_invariance", "extrapolation")
TASKS = ("cs", "eg", "sg")
LABELS = {"cs": "crystal_system", "eg": "extinction_group", "sg": "space_group"}


def _triple(scores: dict | None) -> list[float] | None:
    if not scores:
        return None
    return [round(100 * scores[f"{t}_accuracy"], 1) for t in TASKS]


def _measured(measured: dict, run: str) -> list[float] | None:
    for entry in measured.get("results", []):
        if Path(entry["run"]).name == run:
            g = entry["groups"]["single"]
            return [round(100 * g[LABELS[t]]["top1"], 1) for t in TASKS]
    return None


def _pooled(report_path: Path) -> list[float] | None:
    """CS / EG / SG accuracy over every split of one report, weighted by its patterns."""
    if not report_path.is_file():
        return None
    splits = json.loads(report_path.read_text())["splits"].values()
    n = sum(v["n_patterns"] for v in splits)
    return [round(100 * sum(v[f"{t}_accuracy"] * v["n_patterns"] for v in splits) / n, 1)
            for t in TASKS]


def _majority(root: zarr.Group, splits: tuple[str, ...]) -> list[float] | None:
    """Rate of always answering the most common class of ``splits`` pooled."""
    present = [s for s in splits if s in root]
    if not present:
        return None
    out = []
    for t in TASKS:
        labels = np.concatenate([root[s][LABELS[t]][:] for s in present])
        out.append(round(100 * np.bincount(labels).max() / labels.size, 1))
    return out


def build_table(folder: Path, store: Path, runs: list[str],
                new_structures: Path | None = None) -> dict:
    root = zarr.open_group(str(store), mode="r")
    measured_path = folder / "measured.json"
    measured = json.loads(measured_path.read_text()) if measured_path.is_file() else {}
    rows = {}
    for run in runs:
        report_path = folder / run / "eval.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        splits = report.get("splits", {})
        rows[run] = {s: _triple(splits.get(s)) for s in SPLITS}
        rows[run]["measured"] = _measured(measured, run)
        if new_structures is not None:
            rows[run]["new_structure_types"] = _pooled(new_structures / f"{run}.json")
    majority = {s: _majority(root, (s,)) for s in SPLITS if s in root}
    single = None
    for entry in measured.get("results", [])[:1]:
        g = entry["groups"]["single"]
        single = [round(100 * g[LABELS[t]]["majority_class"], 1) for t in TASKS]
    majority["measured"] = single
    columns = [*SPLITS, "measured"]
    if new_structures is not None:
        columns.append("new_structure_types")
        majority["new_structure_types"] = _majority(
            zarr.open_group(str(new_structures / "structures.zarr"), mode="r"),
            ("equivariance", "invariance"))
    rows["majority class"] = {s: majority.get(s) for s in columns}
    return {"store": str(store), "columns": columns, "rows": rows}


def markdown(table: dict) -> str:
    def cell(v: list[float] | None) -> str:
        return " / ".join(f"{x:.0f}" for x in v) if v else "–"

    head = "| model | " + " | ".join(c.replace("_", " ") for c in table["columns"]) + " |"
    lines = [head, "|---" * (len(table["columns"]) + 1) + "|"]
    for run, row in table["rows"].items():
        lines.append(f"| {run} | " + " | ".join(cell(row[c]) for c in table["columns"]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("-o", "--output", type=Path, default=None)
    parser.add_argument("--new-structures", type=Path, default=None,
                        help="folder of benchmarks/experiments/eval_new_structures.sh "
                             "(RUN.json reports and structures.zarr)")
    args = parser.parse_args()
    table = build_table(args.folder, args.store, args.runs, args.new_structures)
    print(markdown(table))
    if args.output:
        write_json(args.output, table)


if __name__ == "__main__":
    main()
