"""``xrdsim inspect``: counts per split and class, configs, an example-pattern PNG."""

from __future__ import annotations

import click
from xrdsim_cli._common import echo_json, handles_library_errors


@click.command("inspect")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--png", type=click.Path(dir_okay=False), default=None,
              help="Write an example-pattern plot (train vs invariance views) here.")
@handles_library_errors
def inspect(store, as_json, png) -> None:
    """Summarise the dataset STORE (complete or still being built)."""
    from xrdsim.dataset.inspect import format_summary, plot_examples, summarize_dataset

    summary = summarize_dataset(store)
    if png:
        summary["png"] = str(plot_examples(store, png))
    if as_json:
        echo_json(summary)
    else:
        click.echo(format_summary(summary))
        if png:
            click.echo(f"example plot: {summary['png']}")
