"""``xrdsim peaks`` (structures → HDF5 peak database) and ``xrdsim peaks-info`` (summary)."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, existing_inputs, handles_library_errors

#: Where the bundled default input lives inside the installed package.
DEFAULT_INPUT_NAME = "xrdsim/data/default_structures.csv.gz"


def default_input() -> Path:
    """The bundled 504 MP-20 structures (72 per crystal system), used when no INPUT is given."""
    return Path(str(resources.files("xrdsim.data").joinpath("default_structures.csv.gz")))


@click.command("peaks")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="HDF5 peak database to write (e.g. peaks.h5).")
@click.option("--wavelength", default="1.5418", show_default=True,
              help="λ in Å or a preset name (CuKa, CuKa1, MoKa1, ...).")
@click.option("--two-theta-min", type=float, default=0.0, show_default=True,
              help="Lowest 2θ of the peak lists, degrees.")
@click.option("--two-theta-max", type=float, default=120.0, show_default=True,
              help="Highest 2θ of the peak lists, degrees.")
@click.option("--symprec", type=float, default=0.1, show_default=True,
              help="spglib symmetry tolerance in Å (0.1 reproduces the MP-20 labels).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local dask cluster; 1 runs in-process "
                   "(no dask). Default: all available cores, at most one per chunk, "
                   "and in-process for fewer than 1024 inputs.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Use a running dask.distributed scheduler (tcp://host:8786) "
                   "instead of a local cluster.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Structures per parallel task.")
@click.option("--reader", type=click.Choice(["fast", "pymatgen"]), default="fast",
              show_default=True,
              help="fast: gemmi's CIF parser for plain CIFs, pymatgen where it refuses "
                   "(same results; the path of each structure is recorded); pymatgen: always "
                   "pymatgen's CifParser.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--u-as-b", is_flag=True,
              help="Read CIF _atom_site_U_iso_or_equiv / aniso_U columns as B (for files "
                   "that put B values under the U tags; the reader warns about such files).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_library_errors
def peaks(inputs, output, wavelength, two_theta_min, two_theta_max, symprec, workers,
          scheduler, chunk_size, reader, overwrite, u_as_b, quiet, as_json):
    """Compute symmetry labels and Bragg peaks of every structure in INPUT... (CIF files,
    folders of CIFs, CSV / CSV.gz files with a CIF column) into one HDF5 peak database.

    With no INPUT, the bundled default data is used: xrdsim/data/default_structures.csv.gz
    (504 MP-20 structures, 72 per crystal system).

    Inputs that fail (unreadable, malformed, unknown element, zero volume, ...) are
    recorded in the file's error table with their reason; the others are written.

    \b
    Exit codes: 0 every input written; 1 some inputs failed (listed in the summary and in
    the file, see `xrdsim peaks-info`); 2 usage error; 3 library error (bad settings,
    output exists without --overwrite, ...).
    """
    from xrdsim.peaks.job import write_peak_database

    paths = [Path(p) for p in existing_inputs(inputs, param="INPUTS", kind="structures")] \
        if inputs else [default_input()]
    if not inputs and not quiet:
        click.echo(f"no INPUT given: using the bundled {DEFAULT_INPUT_NAME}", err=True)
    summary = write_peak_database(
        paths, output, wavelength=wavelength, two_theta_range=(two_theta_min, two_theta_max),
        symprec=symprec, workers=workers, scheduler=scheduler, progress=not quiet,
        overwrite=overwrite, chunk_size=chunk_size, u_as_b=u_as_b, fast=reader == "fast",
    )
    if as_json:
        echo_json(summary.to_dict())
    elif not quiet:
        rate = summary.n_inputs / summary.seconds if summary.seconds > 0 else float("nan")
        click.echo(f"wrote {summary.path}: {summary.n_structures} structure(s), "
                   f"{summary.n_failed} failed, {summary.n_peaks} peaks; "
                   f"{summary.seconds:.1f} s ({rate:.1f} inputs/s)")
        if summary.failure_reasons:
            click.echo("most common failure reasons:")
            for reason, count in summary.failure_reasons.items():
                click.echo(f"  {count:6d}  {reason}")
            click.echo(f"every failure: xrdsim peaks-info {summary.path} --errors")
    elif summary.n_failed:
        click.echo(f"{summary.n_failed} input(s) failed; see `xrdsim peaks-info "
                   f"{summary.path} --errors`", err=True)
    if summary.n_failed:
        sys.exit(EXIT_PARTIAL)


@click.command("peaks-info")
@click.argument("database", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--errors", "all_errors", is_flag=True, help="List every failed input.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_library_errors
def peaks_info(database, all_errors, as_json):
    """Summarise a peak database: counts, structures per crystal system, peaks per
    structure, settings, package versions and failure reasons.

    Exit codes: 0 success; 2 usage error; 3 the file is missing, corrupt or not a
    peak database.
    """
    from xrdsim.peaks.database import PeakDatabase

    with PeakDatabase(database) as db:
        info = db.summary()
        errors = db.errors if all_errors else []
    if as_json:
        if all_errors:
            info["errors"] = [{"source": s, "reason": r} for s, r in errors]
        echo_json(info)
        return
    s = info["settings"]
    lo, hi = s["two_theta_range"]
    click.echo(f"{info['path']}  (format version {info['format_version']}, "
               f"created {info['created']})")
    click.echo(f"structures: {info['n_structures']}   failed inputs: {info['n_errors']}   "
               f"peaks: {info['n_peaks']}")
    click.echo(f"settings: wavelength {s['wavelength']} Å, 2θ {lo}–{hi}°, "
               f"symprec {s['symprec']} Å, Debye–Waller {'on' if s['debye_waller'] else 'off'}")
    stats = info["peaks_per_structure"]
    if stats:
        click.echo(f"peaks per structure: min {stats['min']}, median {stats['median']:g}, "
                   f"mean {stats['mean']:.1f}, max {stats['max']}")
    click.echo("crystal systems:")
    for name, count in info["crystal_systems"].items():
        click.echo(f"  {name:<13}{count:8d}")
    versions = info["versions"]
    click.echo("versions: " + ", ".join(f"{k} {versions[k]}" for k in sorted(versions)
                                         if k != "platform"))
    click.echo("inputs: " + ", ".join(info["inputs"]))
    if info["failure_reasons"]:
        click.echo("most common failure reasons:")
        for reason, count in info["failure_reasons"].items():
            click.echo(f"  {count:6d}  {reason}")
    for source, reason in errors:
        click.echo(f"failed: {source}: {reason}")
