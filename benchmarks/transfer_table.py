"""The transfer table (das2025 Table 2 shape plus extrapolation and measured columns).

Reads what ``benchmarks/train_transfer_cpu.sh`` or ``benchmarks/gpu_run.sh`` left in a
run folder: each run's ``eval.json`` (``xrdsim evaluate``), ``measured.json``
(``benchmarks/bench_measured.py score``) and the store, whose labels give the
majority-class row (the rate of always answering a split's most common class, over the
whole split). Prints a Markdown table (CS / EG / SG accuracy in %) and writes JSON:

    python benchmarks/transfer_table.py RUN_FOLDER --store RUN_FOLDER/mp20.zarr \\
        --runs hand supervised supervised-aug barlow simclr -o RUN_FOLDER/table.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import zarr

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


def build_table(folder: Path, store: Path, runs: list[str]) -> dict:
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
    majority = {}
    for s in SPLITS:
        if s in root:
            majority[s] = [round(100 * np.bincount(root[s][LABELS[t]][:]).max()
                                 / root[s][LABELS[t]].shape[0], 1) for t in TASKS]
    single = None
    for entry in measured.get("results", [])[:1]:
        g = entry["groups"]["single"]
        single = [round(100 * g[LABELS[t]]["majority_class"], 1) for t in TASKS]
    majority["measured"] = single
    rows["majority class"] = {s: majority.get(s) for s in (*SPLITS, "measured")}
    return {"store": str(store), "columns": [*SPLITS, "measured"], "rows": rows}


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
    args = parser.parse_args()
    table = build_table(args.folder, args.store, args.runs)
    print(markdown(table))
    if args.output:
        args.output.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
