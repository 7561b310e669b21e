"""``xrdsim prepare``: measured pattern files onto the model grid, into a Zarr v3 store."""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import (
    EXIT_PARTIAL,
    echo_json,
    echo_warning,
    existing_inputs,
    handles_library_errors,
)


@click.command("prepare")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Zarr store to write (e.g. prepared.zarr).")
@click.option("--wavelength", default=None,
              help="λ of files that state none: Å or a name (CuKa1, CuKa, MoKa1, ...). "
                   "A file's own λ (.xrdml) wins unless --force-wavelength.")
@click.option("--force-wavelength", is_flag=True,
              help="Use --wavelength even for files that state their own λ (.xrdml); "
                   "without it the file's value wins, with a warning when they differ.")
@click.option("--to-wavelength", default="1.5418", show_default=True,
              help="λ of the model grid (the training wavelength), Å or a name.")
@click.option("--background", type=click.Choice(["snip", "poly", "none"]), default="snip",
              show_default=True, help="Background estimate to subtract.")
@click.option("--width", "width_deg", type=float, default=1.0, show_default=True,
              help="SNIP half-window in degrees 2θ.")
@click.option("--degree", type=int, default=6, show_default=True,
              help="Polynomial degree for --background poly.")
@click.option("--smooth", "smooth_deg", type=float, default=0.3, show_default=True,
              help="Moving-average width (degrees) used only while estimating the background.")
@click.option("--clip-negative", is_flag=True,
              help="Set values below 0 after background subtraction to 0.")
@click.option("--no-normalise", is_flag=True, help="Keep intensities instead of max = 1.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write a before/after PNG per file into this folder.")
@click.option("--xy", "xy_dir", type=click.Path(file_okay=False), default=None,
              help="Also write each prepared pattern as a two-column .xy file (2θ, "
                   "intensity) into this folder.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output store.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_library_errors
def prepare(files, output, wavelength, force_wavelength, to_wavelength, background,
            width_deg, degree, smooth_deg, clip_negative, no_normalise, plot_dir, xy_dir,
            overwrite, as_json):
    """Read measured FILES (files, folders or glob patterns of .xy .xye .dat .txt .xrdml
    .chi .ASC .cif, Bruker .raw .uxd, GSAS .gsa .gss .gsas .fxye), convert to the training
    wavelength, resample onto the 12,000-bin grid, subtract the background, normalise, and
    write them to a Zarr store (group "measured").
    When no file can be prepared, no store is written. Every file of a FILES folder is
    read or listed as failed (e.g. a README: "unknown file suffix"), never skipped unseen.

    \b
    Exit codes: 0 every file prepared; 1 some (or all) files failed, each listed with its
    reason; 2 usage error (e.g. a missing FILE); 3 library error (a bad --wavelength name,
    the store exists without --overwrite, ...).
    """
    from xrdsim.measured.prepare import prepare_files

    summary = prepare_files(
        existing_inputs(files), output, wavelength=wavelength, to_wavelength=to_wavelength,
        background=None if background == "none" else background, width_deg=width_deg,
        degree=degree, smooth_deg=smooth_deg, clip_negative=clip_negative,
        normalise=not no_normalise, overwrite=overwrite, plot_dir=plot_dir,
        force_wavelength=force_wavelength, xy_dir=xy_dir,
    )
    if as_json:
        echo_json(summary.to_dict())
    else:
        n = len(summary.sources) + len(summary.errors)
        where = summary.output or "nothing written (no file could be prepared)"
        click.echo(f"prepared {len(summary.sources)} of {n} file(s) -> {where}")
        for source, message in summary.warnings:
            echo_warning(source, message)
        for source, reason in summary.errors:
            click.echo(f"failed: {source}: {reason}", err=True)
    if summary.errors:
        sys.exit(EXIT_PARTIAL)
