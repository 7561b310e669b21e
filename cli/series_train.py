"""``xrdsim series train``: self-supervised SpecRR / SpecMoco / SpecRRMoco run on a series store."""

from __future__ import annotations

from pathlib import Path

import click
from xrdsim_cli._common import echo_json, handles_library_errors


@click.command("train")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "run_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New run directory.",
)
@click.option(
    "--method",
    type=click.Choice(["specrr", "specmoco", "specrrmoco", "specselftime"]),
    default="specrrmoco",
    show_default=True,
)
@click.option(
    "--series",
    "names",
    multiple=True,
    help="Train on these series of the store only (repeat); default all.",
)
@click.option("--steps", type=click.IntRange(1), default=None, help="Stage-1 steps (default 80).")
@click.option("--batch-size", type=click.IntRange(2), default=None, help="Patterns per step.")
@click.option(
    "--label-fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Share of patterns labelled for the linear stage (default 0.027).",
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@handles_library_errors
def train(store, run_dir, method, names, steps, batch_size, label_fraction, seed, as_json):
    """Train the ConvSC-attention encoder without labels, then a linear classifier on
    2.7 % labelled patterns (sun2023's two stages).

    \b
    Example:
      xrdsim series train train.zarr --method specrr -o runs/specrr
    \b
    Exit codes: 0 trained; 2 usage error; 3 library error (run exists, unreadable store).
    """
    import torch
    from xrdsim_training.series.config import SeriesTrainConfig
    from xrdsim_training.series.train import train_series

    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    overrides = {"steps": steps, "batch_size": batch_size, "label_fraction": label_fraction}
    cfg = SeriesTrainConfig(
        method=method, seed=seed, **{k: v for k, v in overrides.items() if v is not None}
    )
    info = train_series(
        store, run_dir, cfg, names=list(names) or None, log=lambda s: click.echo(s, err=True)
    )
    if as_json:
        echo_json({"run": str(run_dir), **info})
    else:
        click.echo(
            f"wrote {run_dir}: {method}, {info['patterns']} patterns, "
            f"{info['labelled']} labelled, stage 1 {info['stage1_seconds']} s"
        )
