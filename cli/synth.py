"""``xrdsim synth``: synthetic crystals for every space group → CSV.gz of CIFs."""

from __future__ import annotations

import dataclasses
import sys

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, handles_library_errors


@click.command("synth")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="CSV.gz of CIFs to write (siblings <stem>.errors.csv, <stem>.json).")
@click.option("--per-space-group", required=True, type=click.IntRange(min=1),
              help="Crystals per space group (indices 0 ... N-1).")
@click.option("--space-groups", default="1-230", show_default=True,
              help="Groups to generate: ranges and lists, e.g. '1-230' or '14,62,225'.")
@click.option("--max-atoms", default=100, show_default=True, type=click.IntRange(min=1),
              help="Most atoms in the conventional cell.")
@click.option("--elements", default=None,
              help="Allowed elements, comma-separated (default: every MP-20 element, "
                   "drawn by its MP-20 frequency).")
@click.option("--composition", default=None,
              help="Fixed atoms per conventional cell, e.g. 'Na4Cl4' (pyxtal picks the "
                   "Wyckoff positions); default: orbits and elements drawn.")
@click.option("--orbits", default=None, metavar="LO-HI",
              help="Occupied Wyckoff orbits per crystal, uniform in LO..HI (capped by what "
                   "the group holds within --max-atoms), e.g. '8-30'; default: MP-20's "
                   "histogram (1-20).")
@click.option("--profile", default=None, metavar="NAME",
              help="Element profile instead of MP-20's statistics: 'minerals' = anion "
                   "classes and cations by their share of mineral species (docs/structures.md"
                   "); needs --orbits with LO >= 2.")
@click.option("--seed", default=0, show_default=True, help="Generator seed.")
@click.option("--symprec", default=0.1, show_default=True,
              help="spglib tolerance (Å) at which each crystal must show its group.")
@click.option("--attempts", default=20, show_default=True, type=click.IntRange(min=1),
              help="Plans tried per crystal before it becomes an error record.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes (1: in-process; more: a local dask cluster).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A running dask.distributed scheduler instead of a local cluster.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_library_errors
def synth(output, per_space_group, space_groups, max_atoms, elements, composition, orbits,
          profile, seed, symprec, attempts, workers, scheduler, overwrite, quiet,
          as_json) -> None:
    """Generate random crystals in every requested space group (pyxtal), checked by spglib.

    Crystal (group, index) depends only on --seed and the settings, so any slice
    regenerates alone. Mineral-shaped crystals: --profile minerals --orbits 8-30
    --max-atoms 200. Crystals that cannot be made (an impossible --composition,
    --max-atoms below the group's smallest Wyckoff orbit, attempts exhausted) are
    listed in <stem>.errors.csv.

    \b
    Exit codes: 0 every crystal made; 1 some failed (see <stem>.errors.csv);
    2 usage error; 3 library error (bad settings, output exists without --overwrite).
    """
    from xrdsim.structures.synth import (
        SynthSettings,
        parse_composition,
        parse_orbits,
        parse_space_groups,
    )
    from xrdsim.structures.synth_job import write_synthetic

    settings = SynthSettings(
        seed=seed, max_atoms=max_atoms, symprec=symprec, attempts=attempts,
        elements=None if elements is None else tuple(e.strip() for e in elements.split(",")
                                                     if e.strip()),
        composition=None if composition is None else parse_composition(composition),
        orbits=None if orbits is None else parse_orbits(orbits), profile=profile)
    summary = write_synthetic(output, space_groups=parse_space_groups(space_groups),
                              per_space_group=per_space_group, settings=settings,
                              workers=workers, scheduler=scheduler, progress=not quiet,
                              overwrite=overwrite)
    if as_json:
        echo_json(dataclasses.asdict(summary))
    elif not quiet:
        click.echo(f"wrote {summary.path}: {summary.n_structures} crystal(s), "
                   f"{summary.n_failed} failed ({summary.errors_path}); "
                   f"{summary.seconds:.1f} s")
        for reason, n in summary.failure_reasons.items():
            click.echo(f"  {n:6d}  {reason}")
    if summary.n_failed:
        sys.exit(EXIT_PARTIAL)
