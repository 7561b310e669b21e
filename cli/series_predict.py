"""``xrdsim series predict`` and ``xrdsim series evaluate``: use and score series runs."""

from __future__ import annotations

import json
from pathlib import Path

import click
from xrdsim_cli._common import echo_json, handles_library_errors


@click.command("predict")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--series", "names", multiple=True, help="Series to classify (repeat); default all.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for NAME.json and NAME.png per series.",
)
@click.option(
    "--label-fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Refit the linear stage on this share of each series' own labels (e.g. 0.027) "
    "instead of the run's classifier from its training series.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
@handles_library_errors
def predict(run_dir, store, names, output, label_fraction, as_json):
    """Classify every pattern of a series as before / during / after the transition and
    report the detected transition interval(s) of the external variable.

    \b
    Example:
      xrdsim series predict runs/specrr test.zarr -o predictions
    \b
    Exit codes: 0 written; 2 usage error; 3 library error (no run, unknown series).
    """
    from xrdsim_training.series.predict import plot_prediction, predict_series

    from xrdsim.series.store import series_names

    output.mkdir(parents=True, exist_ok=True)
    summary = []
    for name in names or series_names(store):
        pred = predict_series(run_dir, store, name, label_fraction=label_fraction)
        (output / f"{name}.json").write_text(json.dumps(pred, indent=1), encoding="utf-8")
        plot_prediction(output / f"{name}.png", store, pred)
        summary.append(
            {k: pred.get(k) for k in ("series", "transitions", "true_transition", "accuracy")}
        )
    if as_json:
        echo_json({"output": str(output), "series": summary})
    else:
        for row in summary:
            acc = "" if row["accuracy"] is None else f", accuracy {row['accuracy']:.3f}"
            click.echo(f"{row['series']}: transitions {row['transitions']}{acc}")


@click.command("evaluate")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--run",
    "run_dirs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A run directory from `xrdsim series train` (repeat).",
)
@click.option("--series", "names", multiple=True, help="Series to score (repeat); default all.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table as JSON here.",
)
@handles_library_errors
def evaluate(store, run_dirs, names, output):
    """Per-series accuracy (sun2023 Table 1): spectral clustering on the patterns; a
    linear classifier on each run's representations with 2.7 % of each series labelled;
    spectral clustering on each run's representations.

    \b
    Example:
      xrdsim series evaluate test.zarr --run runs/specrr --run runs/specmoco -o table.json
    \b
    Exit codes: 0 scored; 2 usage error; 3 library error (no run, unlabelled series).
    """
    from xrdsim_training.series.predict import evaluate_runs, table_markdown

    table = evaluate_runs(store, list(run_dirs), names=list(names) or None)
    if output is not None:
        output.write_text(json.dumps(table, indent=1), encoding="utf-8")
    click.echo(table_markdown(table))
