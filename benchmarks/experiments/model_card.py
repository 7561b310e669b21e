"""The numbers of ``docs/model_card.md``, rendered from the bundled model file's header and
its rruff_dev report.

    python benchmarks/experiments/model_card.py --evaluate --write   # after replacing the model
    python benchmarks/experiments/model_card.py                      # print the rendering

``--evaluate`` scores the bundled model (``xrdsim_training/bundled/default_model.npz``) on
``../shared/data/patterns/rruff_dev`` exactly as ``xrdsim evaluate --measured
../shared/data/patterns/rruff_dev --labels ../shared/data/patterns/rruff_dev/labels.csv
--wavelength CuKa`` does and writes the report to
``benchmarks/results/bundled_model_rruff_dev.json`` (with the machine's load and the predict
time); ``--write`` puts the rendering between the two marker comments of the card.
``tests/benchmarks/test_model_card.py`` fails when the card differs from the rendering or
when the report is of another file than the bundled one (its ``model_sha256``), so the
card's numbers always belong to the file the package ships.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from readme_table import marked_block, replace_marked  # noqa: E402 - the sibling script

from xrdsim.files import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "training" / "bundled" / "default_model.npz"
REPORT = REPO / "benchmarks" / "results" / "bundled_model_rruff_dev.json"
CARD = REPO / "docs" / "model_card.md"
RRUFF_DEV = REPO.parent / "shared" / "data" / "patterns" / "rruff_dev"
BEGIN = ("<!-- model card numbers: written by benchmarks/experiments/model_card.py from the "
         "bundled model's header and benchmarks/results/bundled_model_rruff_dev.json -->")
END = "<!-- end of model card numbers -->"
TASK_NAMES = {"crystal_system": "crystal system", "extinction_group": "extinction group",
              "space_group": "space group"}


def model_header(path: Path = MODEL) -> dict:
    """The JSON header of a model file (read as data: ``header.json`` of the archive)."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("header.json"))


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _interval(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_95"]
    return f"{_pct(entry[key])} [{_pct(lo)}, {_pct(hi)}]"


def render(header: dict, report: dict, *, sha256: str, size: int) -> str:
    """Markdown of the card's generated part: the file, its training, rruff_dev accuracy
    with intervals, per crystal system, the confusion matrix and the calibration."""
    model, train = header["model"], header["source"]["train_config"]
    n_params = report.get("n_parameters")
    lines = [
        "| file | value |", "|---|---|",
        f"| bundled file | `xrdsim_training/bundled/default_model.npz`, {size:,} bytes"
        + (f", {n_params:,} parameters" if n_params else "") + " |",
        f"| sha256 of the file | `{sha256}` |",
        f"| sha256 of its weights (header `weights_sha256`) | `{header['weights_sha256']}` |",
        f"| architecture | width {model['width']}, depth {model['depth']}, "
        f"{model['blocks_per_stage']} block(s) per stage, pool {model['pool_length']}, "
        f"embedding {model['embed_dim']}; input view {model['view_two_theta'][0]:g}–"
        f"{model['view_two_theta'][1]:g}° 2θ, background {model['view_background']}"
        + (", cropped to the window" if model.get("view_crop") else "")
        + (f", {model['view_pool']} bins of 0.01° averaged per input sample"
           if model.get("view_pool", 1) > 1 else "") + " |",
        f"| training | `{train['method']}`, {train['epochs']} epoch(s)"
        + (f" + {train['pretrain_epochs']} pre-training" if train["pretrain_epochs"] else "")
        + f", batch {train['batch_size']}, lr {train['lr']:g}, seed {train['seed']}, "
        f"simulation preset `{train['sim_config']}`; weights of `{header['source']['checkpoint']}`"
        f", after epoch {header['source']['epoch']} |",
        f"| grid wavelength | {header['wavelength']:g} Å |",
        f"| exported with | xrdsim {header['xrdsim_version']} |",
        "", "Training command (header `training_command`):", "", "```bash",
        header["training_command"] or "(not recorded)", "```", "",
        f"**rruff_dev** ({report['n']} labelled files, {len(report['errors'])} unreadable; "
        f"95 % bootstrap intervals over files, {report['bootstrap_rounds']} rounds):", "",
        "| task | top-1 % | top-3 % | balanced top-1 % | majority class % | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for task, entry in report["tasks"].items():
        lines.append(f"| {TASK_NAMES[task]} | {_interval(entry['top1'], 'accuracy')} | "
                     f"{_interval(entry['top3'], 'accuracy')} | "
                     f"{_interval(entry['top1'], 'balanced')} | "
                     f"{_pct(entry['majority']['accuracy'])} | {entry['ece']:.3f} |")
    lines += ["", "Per true crystal system (top-1 %):", "",
              "| crystal system | files | CS | EG | SG |", "|---|---|---|---|---|"]
    for name, row in report["per_crystal_system"].items():
        lines.append(f"| {name} | {row['n']} | {_pct(row['crystal_system'])} | "
                     f"{_pct(row['extinction_group'])} | {_pct(row['space_group'])} |")
    confusion = report["crystal_system_confusion"]
    classes = confusion["classes"]
    lines += ["", "Crystal-system confusion (rows: true, columns: predicted):", "",
              "| true \\ predicted | " + " | ".join(classes) + " |",
              "|---|" + "---|" * len(classes)]
    for name, row in zip(classes, confusion["rows_true_columns_predicted"], strict=True):
        if sum(row):
            lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    calibration = header["calibration"]
    lines += [""]
    if calibration is None:
        lines.append("Calibration: none (the run had no `calibration.json`); probabilities "
                     "are the network's softmax.")
    else:
        lines += [f"Calibration: one temperature per task fitted on {calibration['n_fit']} "
                  f"patterns of the `{calibration['split']}` split, ECE measured on "
                  f"{calibration['n_test']} others:", "",
                  "| task | temperature | ECE before | ECE after |", "|---|---|---|---|"]
        for task in TASK_NAMES:
            c = calibration[task]
            lines.append(f"| {TASK_NAMES[task]} | {header['temperatures'][task]:.3f} | "
                         f"{c['ece_before']:.3f} | {c['ece_after']:.3f} |")
    if "timing" in report:
        t = report["timing"]
        lines += ["", f"Predicting the {report['n']} files took {t['wall_s']:.1f} s wall, "
                  f"{t['cpu_s']:.1f} s CPU on {t['machine']} (load {t['load_1min']:.1f}, "
                  f"{t['torch_threads']} torch thread(s))."]
    return "\n".join(lines)


def card_block(text: str) -> str:
    """The part of the card between the markers (without them)."""
    return marked_block(text, BEGIN, END, CARD)


def evaluate() -> dict:
    """Score the bundled model on rruff_dev (the library call behind ``xrdsim evaluate
    --measured``), timed, and write :data:`REPORT`."""
    from xrdsim_training.evaluation.measured import evaluate_measured
    from xrdsim_training.measured.model_file import file_sha256

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    report = evaluate_measured(None, [RRUFF_DEV], labels=RRUFF_DEV / "labels.csv",
                               wavelength="CuKa", device="cpu")
    import torch

    report["timing"] = {"wall_s": time.perf_counter() - start_wall,
                        "cpu_s": time.process_time() - start_cpu,
                        "load_1min": os.getloadavg()[0], "torch_threads": torch.get_num_threads(),
                        "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    report["run"] = "bundled"
    report["labels"] = "../shared/data/patterns/rruff_dev/labels.csv"
    report["model_sha256"] = file_sha256(MODEL)
    report["n_parameters"] = _n_parameters()
    write_json(REPORT, report, indent=1)
    return report


def _n_parameters() -> int:
    """Numbers in the file's tensors (batch-norm statistics and step counters included)."""
    import numpy as np

    with np.load(MODEL, allow_pickle=False) as npz:
        return int(sum(npz[name].size for name in npz.files if name != "header.json"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate", action="store_true",
                        help="score the bundled model on rruff_dev first (writes the report)")
    parser.add_argument("--write", action="store_true", help="replace the numbers in the card")
    args = parser.parse_args(argv)
    from xrdsim_training.measured.model_file import file_sha256

    report = evaluate() if args.evaluate else json.loads(REPORT.read_text(encoding="utf-8"))
    sha = file_sha256(MODEL)
    if report["model_sha256"] != sha:
        sys.exit(f"{REPORT} scores another file (sha256 {report['model_sha256']}) than "
                 f"{MODEL} ({sha}); run with --evaluate")
    text = render(model_header(), report, sha256=sha, size=MODEL.stat().st_size)
    if not args.write:
        print(text)
        return
    replace_marked(CARD, BEGIN, END, text)


if __name__ == "__main__":
    main()
