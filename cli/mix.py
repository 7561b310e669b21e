"""``xrdsim mix``: real + synthetic structures at a chosen ratio → one build input."""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, existing_inputs, handles_library_errors


@click.command("mix")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Mixed CSV.gz to write (recipe: <stem>.mix.json beside it).")
@click.option("--real", multiple=True, required=True, type=click.Path(exists=True),
              help="Real structures: CIF files, folders, CSV(.gz) (repeatable).")
@click.option("--synthetic", multiple=True, required=True, type=click.Path(exists=True),
              help="Tables written by `xrdsim synth` (repeatable).")
@click.option("--ratio", required=True, type=float,
              help="Synthetic crystals per real structure (1.0: as many as real ones).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--json", "as_json", is_flag=True, help="Print the recipe as JSON.")
@handles_library_errors
def mix(output, real, synthetic, ratio, overwrite, as_json) -> None:
    """Write every real structure plus RATIO synthetic crystals per real one, taken
    round-robin over the intended space groups. `xrdsim build OUTPUT` records the
    recipe in the dataset manifest.

    \b
    Folders are searched with their sub-folders (`xrdsim sources -o extra/` writes
    extra/aflow/ and extra/avogadro/).

    \b
    Exit codes: 0 written; 1 written, but some inputs (or files in them) could not be
    read, each printed as "failed: SOURCE: reason"; 2 usage error (a missing input, a
    folder without structure files); 3 library error (too few synthetic crystals for
    the ratio, output exists without --overwrite, ...).
    """
    from xrdsim.structures.mix import mix_sources, recipe_path

    recipe = mix_sources(output, real=existing_inputs(real, param="--real", kind="structures"),
                         synthetic=synthetic, ratio=ratio, overwrite=overwrite)
    if as_json:
        echo_json(recipe)
    else:
        click.echo(f"wrote {output}: {recipe['n_real']} real + {recipe['n_synthetic']} "
                   f"synthetic ({recipe['synthetic_space_groups']} space groups); recipe "
                   f"{recipe_path(output)}")
    for failed in recipe["unreadable_inputs"]:
        click.echo(f"failed: {failed['source']}: {failed['reason']}", err=True)
    if recipe["unreadable_inputs"]:
        sys.exit(EXIT_PARTIAL)
