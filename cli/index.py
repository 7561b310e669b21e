"""``xrdsim index``: unit cells of measured patterns by powder indexing (DICVOL's dichotomy)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, existing_inputs, handles_library_errors


@click.command("index")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--wavelength", default=None,
              help="λ of files that state none: Å or a name (CuKa, CuKa1, MoKa1, ...). A Kα "
                   "mean (CuKa) is fitted as the Kα1 + Kα2 doublet. A file's own λ "
                   "(.xrdml) wins unless --force-wavelength.")
@click.option("--force-wavelength", is_flag=True,
              help="Use --wavelength even for files that state their own λ.")
@click.option("--max-volume", type=click.FloatRange(min=1.0), default=1500.0,
              show_default=True, help="Largest cell volume searched, Å³.")
@click.option("--systems", default="cubic,tetragonal,hexagonal,orthorhombic,monoclinic,"
              "triclinic", show_default=True,
              help="Crystal systems to search, comma-separated (trigonal = the hexagonal "
                   "search, where rhombohedral lattices appear as hR).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="Cells listed per file, best first.")
@click.option("--tolerance", type=click.FloatRange(min=0.001, max=0.5), default=0.03,
              show_default=True, help="2θ error allowed per line, degrees.")
@click.option("--max-unindexed", type=click.IntRange(min=0, max=9), default=2,
              show_default=True,
              help="Lines of the first 20 allowed to stay unindexed (impurities).")
@click.option("--max-zero-shift", type=click.FloatRange(min=0.0, max=2.0), default=0.5,
              show_default=True, help="|zero shift| searched and refined, degrees 2θ.")
@click.option("--max-displacement", type=click.FloatRange(min=0.0, max=1.0), default=0.2,
              show_default=True,
              help="|D| searched of a specimen displacement's shift D·cos θ, degrees 2θ "
                   "(0.19 for 0.4 mm on a 240 mm goniometer); 0: a constant zero shift only.")
@click.option("--monochromatic", is_flag=True,
              help="One line per reflection even for a Kα wavelength (Kα1-only optics).")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write every result as JSON to this file ('-' prints it instead of the "
                   "table).")
@click.option("--png", "png", default=None, type=click.Path(),
              help="Figure of observed lines against the best cells' ticks: a .png file "
                   "(one input file) or a folder (one <name>.png per file).")
@handles_library_errors
def index(files, wavelength, force_wavelength, max_volume, systems, top, tolerance,
          max_unindexed, max_zero_shift, max_displacement, monochromatic, json_path, png):
    """Index measured FILES (files, folders or glob patterns of .xy .xye .dat .txt .xrdml
    .chi .ASC .cif): find and fit their lines (Kα2 handled), search cells by successive
    dichotomy (DICVOL) from cubic down to monoclinic and, where tractable, triclinic,
    refine each on Q = 1/d² with the zero shift, and rank them by de Wolff's M20
    (with Smith & Snyder's F_N beside it). Each cell comes with its crystal system,
    Bravais lattice (centring from the absences, where decisive), the hkl of every line
    and the lines it leaves unindexed. A pattern no cell indexes well enough gets "no
    solution" and the reason, never a made-up cell.

    \b
    Exit codes: 0 every file read (with or without a solution); 1 some files could not
    be read, each listed; 2 usage error; 3 bad options (e.g. an unknown crystal system).
    """
    from xrdsim.indexing.index import index_files
    from xrdsim.indexing.settings import IndexingSettings

    settings = IndexingSettings(
        systems=tuple(s.strip() for s in systems.split(",") if s.strip()),
        max_volume=max_volume, top=top, tolerance=tolerance, max_unindexed=max_unindexed,
        max_zero_shift=max_zero_shift, max_displacement=max_displacement,
        monochromatic=monochromatic)
    inputs = existing_inputs(files)
    records, n_failed = [], 0
    for result in index_files(inputs, wavelength=wavelength,
                              force_wavelength=force_wavelength, settings=settings):
        if isinstance(result, Exception):
            n_failed += 1
            records.append({"source": result.source, "error": result.reason})
            click.echo(f"error: {result.source}: {result.reason}", err=True)
            continue
        records.append(result.to_dict())
        if json_path != "-":
            _echo(result)
        if png:
            _figure(result, png, several=len(inputs) > 1 or Path(inputs[0]).is_dir())
    if json_path == "-":
        echo_json({"files": records, "n_failed": n_failed})
    elif json_path:
        Path(json_path).write_text(json.dumps({"files": records, "n_failed": n_failed},
                                              indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    if n_failed:
        click.echo(f"{n_failed} of {len(records)} file(s) failed", err=True)
        sys.exit(EXIT_PARTIAL)


def _figure(result, png: str, *, several: bool) -> None:
    from xrdsim.indexing.figure import plot_indexing

    target = Path(png)
    if several or target.suffix.lower() != ".png":
        target = target / f"{Path(result.source).stem}.png"
    plot_indexing(result, target)


def _echo(result) -> None:
    lines = result.lines
    ratio = f", Kα2/Kα1 {lines.kalpha2_ratio:.2f}" if lines.kalpha2_wavelength else ""
    click.echo(f"{result.source}: {len(lines)} lines (λ {lines.wavelength:.5f} Å{ratio}), "
               f"the first {result.n_search_lines} searched, "
               f"{result.stats['cpu_seconds']:.2f} s")
    if not result.solutions:
        click.echo(f"  no solution: {result.reason}")
        return
    for rank, sol in enumerate(result.solutions, 1):
        click.echo(f"  {rank}. {sol.describe()}")
        if rank == 1:
            hkl = ["-" if h is None else "".join(str(x) for x in h) for h in sol.hkl]
            click.echo("     hkl: " + " ".join(f"{t:.3f}:{h}" for t, h in
                                               zip(lines.two_theta, hkl, strict=True)))
            if sol.unindexed:
                click.echo("     unindexed 2θ: " + " ".join(
                    f"{lines.two_theta[i]:.3f}" for i in sol.unindexed))
