"""``xrdsim hand``: deprecated spellings of the HAND baseline's commands, kept for one release.

HAND is a method like the networks: ``xrdsim train --method hand``, ``xrdsim predict --model RUN
FILES``, ``xrdsim evaluate RUN --data STORE`` or ``--measured FILES --labels CSV``
(:data:`xrdsim_cli.main.DEPRECATED` prints the warning).
"""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import (
    EXIT_PARTIAL,
    echo_json,
    echoed_warnings,
    existing_inputs,
    handles_library_errors,
)


@click.group("hand")
def hand() -> None:
    """Deprecated: use `xrdsim train --method hand`, `xrdsim predict --model RUN FILES` and
    `xrdsim evaluate RUN --measured FILES --labels CSV`. HAND baseline (das2025 §4.2):
    ExtraTrees on the first ten peak positions and the number of peaks in 0–90°."""


@hand.command("train")
@click.argument("peak_db", type=click.Path(exists=True, dir_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--test-fraction", type=float, default=0.1, show_default=True,
              help="Structures held out for the reported test accuracy.")
@click.option("--n-estimators", type=int, default=100, show_default=True)
@click.option("--jobs", type=int, default=1, show_default=True, help="scikit-learn threads.")
@handles_library_errors
def train(peak_db, out_dir, seed, test_fraction, n_estimators, jobs):
    """Train HAND from PEAK_DB (xrdsim peaks output) into OUT_DIR; print test accuracies."""
    from xrdsim_training.hand import train_hand

    echo_json(train_hand(peak_db, out_dir, seed=seed, test_fraction=test_fraction,
                         n_estimators=n_estimators, n_jobs=jobs))


@hand.command("predict")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--wavelength", default=None,
              help="λ of files that state none (Å or CuKa1, ...). A file's own λ (.xrdml) "
                   "wins unless --force-wavelength.")
@click.option("--force-wavelength", is_flag=True,
              help="Use --wavelength even for files that state their own λ (.xrdml); "
                   "without it the file's value wins, with a warning when they differ.")
@click.option("--background", type=click.Choice(["snip", "poly", "none"]), default="snip",
              show_default=True)
@click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True,
              help="Candidates listed per task.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handles_library_errors
def predict(model_dir, files, wavelength, force_wavelength, background, top_k, as_json):
    """Predict crystal system / extinction group / space group of measured FILES (files,
    folders or glob patterns of .xy .xye .dat .txt .xrdml .chi .ASC .cif .raw .uxd
    .gsa .gss .gsas .fxye).

    Peaks in the first 3.5° of each scan (beam knife, air scatter) are not used.
    Exit code 1 when some files could not be read.
    """
    from xrdsim_training.hand import predict_hand

    from xrdsim.measured.paths import pattern_files

    with echoed_warnings():
        results = predict_hand(model_dir, pattern_files(existing_inputs(files)),
                               wavelength=wavelength, top_k=top_k,
                               background=None if background == "none" else background,
                               force_wavelength=force_wavelength)
    if as_json:
        echo_json(results)
    else:
        for r in results:
            if "error" in r:
                click.echo(f"{r['source']}: error: {r['error']}", err=True)
                continue
            ranked = {task: ", ".join(f"{name} ({p:.2f})" for name, (_, p) in
                                      zip(r[task]["names"], r[task]["top_k"], strict=True))
                      for task in ("crystal_system", "extinction_group", "space_group")}
            click.echo(f"{r['source']}  [{r['n_peaks']} peaks]\n"
                       f"  crystal system:   {ranked['crystal_system']}\n"
                       f"  extinction group: {ranked['extinction_group']}\n"
                       f"  space group:      {ranked['space_group']}")
    if any("error" in r for r in results):
        sys.exit(EXIT_PARTIAL)


@hand.command("evaluate")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--labels", "labels_csv", required=True, type=click.Path(exists=True),
              help="CSV with columns file,space_group (file relative to FOLDER).")
@click.option("--wavelength", default=None, help="λ of files that state none.")
@click.option("--background", type=click.Choice(["snip", "poly", "none"]), default="snip",
              show_default=True)
@handles_library_errors
def evaluate(model_dir, folder, labels_csv, wavelength, background):
    """Accuracies per task and per crystal system on measured patterns with known labels
    (JSON). Exit code 1 when some files could not be read."""
    from xrdsim_training.hand import evaluate_hand

    report = evaluate_hand(model_dir, folder, labels_csv, wavelength=wavelength,
                           background=None if background == "none" else background)
    echo_json(report)
    if report["errors"]:
        sys.exit(EXIT_PARTIAL)
