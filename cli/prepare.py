"""``xrdsim prepare``: measured pattern files onto the model grid, into a Zarr v3 store."""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import EXIT_PARTIAL, echo_json, handles_library_errors


@click.command("prepare")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Zarr store to write (e.g. prepared.zarr).")
@click.option("--wavelength", default=None,
              help="λ of files that state none: Å or a name (CuKa1, CuKa, MoKa1, ...). "
                   "Overrides the file's λ (with a warning) where both exist.")
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
@click.option("--overwrite", is_flag=True, help="Replace an existing output store.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_library_errors
def prepare(files, output, wavelength, to_wavelength, background, width_deg, degree,
            smooth_deg, clip_negative, no_normalise, plot_dir, overwrite, as_json):
    """Read measured FILES (.xy .xye .dat .txt .xrdml .chi .ASC .cif), convert to the
    training wavelength, resample onto the 12,000-bin grid, subtract the background,
    normalise, and write them to a Zarr store (group "measured").

    Exit code 1 when some files failed (each is listed with its reason).
    """
    from xrdsim.measured.prepare import prepare_files

    summary = prepare_files(
        files, output, wavelength=wavelength, to_wavelength=to_wavelength,
        background=None if background == "none" else background, width_deg=width_deg,
        degree=degree, smooth_deg=smooth_deg, clip_negative=clip_negative,
        normalise=not no_normalise, overwrite=overwrite, plot_dir=plot_dir,
    )
    if as_json:
        echo_json(summary.to_dict())
    else:
        click.echo(f"prepared {len(summary.sources)} of {len(files)} file(s) -> {summary.output}")
        for source, message in summary.warnings:
            text = message if message.startswith(source) else f"{source}: {message}"
            click.echo(f"warning: {text}", err=True)
        for source, reason in summary.errors:
            click.echo(f"failed: {source}: {reason}", err=True)
    if summary.errors:
        sys.exit(EXIT_PARTIAL)
