"""``xrdsim evaluate``: accuracies of a trained run (neural or HAND) on the test splits of
a store, or of a run, a model file or the bundled model on labelled measured patterns
(``--measured``)."""

from __future__ import annotations

from pathlib import Path

import click
from xrdsim_cli._common import echo_json, handles_library_errors


@click.command("evaluate")
@click.argument("run_dir", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--data", type=click.Path(exists=True, path_type=Path),
              help="dataset.zarr holding the splits to score.")
@click.option("--measured", "measured", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Measured pattern files or folders to score instead of a store "
                   "(repeatable; needs --labels), e.g. shared/data/patterns/rruff_dev.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with columns file,space_group for --measured.")
@click.option("--wavelength", default=None,
              help="--measured: λ of files that state none (Å or preset, e.g. CuKa for rruff_dev).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path),
              help="--measured: crystal-system confusion figure to write.")
@click.option("--split", "splits", multiple=True,
              help="Split to score (repeatable) [equivariance, invariance, "
                   "held_out_invariance — those present].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Report path [RUN_DIR/eval.json; --measured: RUN_DIR/eval_measured.json, "
                   "eval_measured.json here for a model file or the bundled model].")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--max-patterns", type=click.IntRange(min=0), default=0, show_default=True,
              help="Score at most this many evenly spaced patterns per split (0 = all).")
@click.option("--device", default="auto", show_default=True)
@click.option("--block-split", default=None,
              help="Split of the cosine-similarity block matrix [invariance; skipped with "
                   "a note when that split has one view per structure].")
@click.option("--block-structures", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--block-views", type=click.IntRange(min=2), default=None,
              help="Views per structure in the block matrix [all the split has; refused if more].")
@click.option("--calibrate/--no-calibrate", default=True, show_default=True,
              help="Fit temperature scaling on the equivariance split (RUN_DIR/"
                   "calibration.json, used by xrdsim predict).")
@click.option("--tsne-points", type=click.IntRange(min=0), default=600, show_default=True,
              help="Patterns per split of the t-SNE maps of h coloured by crystal system "
                   "(equivariance, invariance; 0 = none).")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best",
              show_default=True, help="best.pt (best validation epoch) or checkpoint.pt.")
@click.option("--background", type=click.Choice(["auto", "snip", "poly", "none"]),
              default="auto", show_default=True,
              help="HAND runs only: background subtracted from each pattern before peak "
                   "finding, as from a measured file (auto = snip).")
@click.option("--verify", is_flag=True,
              help="Recompute the store's checksums first; refuse a damaged store.")
@handles_library_errors
def evaluate(run_dir, data, measured, labels, wavelength, png, splits, output, batch_size,
             max_patterns, device, block_split, block_structures, block_views, calibrate,
             tsne_points, checkpoint, background, verify):
    """Score RUN_DIR's checkpoint on the splits of DATA: CS / EG / SG accuracy and top-k,
    SG-consistent-with-CS rate, a CS confusion-matrix figure and the cosine-similarity
    block matrix of das2025 Fig. 4. Writes the JSON report and prints the accuracies.

    A HAND run (xrdsim train --method hand) is scored on the same splits as measured
    files are by `xrdsim predict`: background (--background), peak finding,
    features, forests. Its report has the accuracies, top-k and confusion figure, and
    warns when HAND was fitted on a held-out split's structures (train it with --data);
    the block matrix, t-SNE and calibration need a network and are skipped with a note.

    With --measured FILES --labels CSV the run (neural or HAND alike) predicts the
    labelled files instead — RUN_DIR may then also be a model file of xrdsim export-model,
    or left out for the model bundled with xrdsim — and the report gives CS / EG / SG
    top-1 and top-3 and balanced accuracy with 95 % bootstrap intervals, accuracy per
    crystal system, the confusion matrix (--png), the ECE of the reported probabilities and
    the majority-class rate:

    \b
      xrdsim evaluate runs/static --measured ../shared/data/patterns/rruff_dev \\
          --labels ../shared/data/patterns/rruff_dev/labels.csv --wavelength CuKa \\
          -o rruff.json --png rruff.png

    Exit codes: 0 done; 2 usage error; 3 library error (no checkpoint, missing split, ...).
    """
    if bool(measured) == (data is not None):
        raise click.UsageError("give either --data STORE or --measured FILES --labels CSV")
    if data is not None and (run_dir is None or not run_dir.is_dir()):
        raise click.UsageError("--data needs RUN_DIR, a run folder of xrdsim train (a model "
                               "file or the bundled model is scored with --measured)")
    if measured:
        _evaluate_measured(run_dir, measured, labels=labels, wavelength=wavelength,
                           device=device, output=output, png=png)
        return
    from xrdsim_training.evaluation.evaluate import evaluate_run

    if verify:
        from xrdsim.dataset.checksums import check_store_for_reading

        check_store_for_reading(data, verify=True)

    report = evaluate_run(run_dir, data=data, splits=tuple(splits) or None, output=output,
                          batch_size=batch_size, max_patterns=max_patterns, device=device,
                          block_split=block_split, block_structures=block_structures,
                          block_views=block_views, calibrate=calibrate,
                          tsne_points=tsne_points, checkpoint=checkpoint,
                          background=None if background == "none" else background)
    for warning in report.get("warnings", ()):
        click.echo(f"warning: {warning}", err=True)
    skipped = report.get("skipped")
    if skipped:
        click.echo(f"note: {report['method']} run: skipped "
                   + "; ".join(f"{name} ({why})" for name, why in skipped.items()), err=True)
    shown = [k for k in ("block_similarity", "representation", "calibration", "skipped",
                         "warnings") if k in report]
    keys = ("n_patterns", "cs_accuracy", "eg_accuracy", "sg_accuracy", "sg_consistent_with_cs")
    echo_json({"output": report["output"],
               "splits": {s: {k: v[k] for k in keys} for s, v in report["splits"].items()},
               **{k: report.get(k) for k in shown}})


def _evaluate_measured(run_dir, measured, *, labels, wavelength, device, output, png) -> None:
    from xrdsim_training.evaluation.measured import evaluate_measured

    from xrdsim.files import write_json

    if labels is None:
        raise click.UsageError("--measured needs --labels CSV (columns file,space_group)")
    report = evaluate_measured(run_dir, list(measured), labels=labels, wavelength=wavelength,
                               device=device, png=png)
    path = output or (run_dir / "eval_measured.json" if run_dir is not None and run_dir.is_dir()
                      else Path("eval_measured.json"))
    write_json(path, report, indent=1)
    for name, reason in report["errors"]:
        click.echo(f"warning: {name}: {reason}", err=True)
    echo_json({"output": str(path), "n": report["n"], "errors": len(report["errors"]),
               **{task: {k: round(100 * v["accuracy"], 1) for k, v in entry.items()
                         if k in ("top1", "top3", "majority")}
                  for task, entry in report["tasks"].items()}})
