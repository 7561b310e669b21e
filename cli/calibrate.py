"""``xrdsim calibrate``: fit an instrument to a measured pattern of a known phase."""

from __future__ import annotations

import click
from xrdsim_cli._common import echo_json, handles_library_errors

#: Fitted values printed, in order: (key in ``parameters``, label, format).
SHOWN = (("zero_shift", "zero shift δ (° 2θ)", "+.4f"),
         ("displacement", "displacement s (mm)", "+.4f"),
         ("strain_a", "cell strain ε_a", "+.5f"), ("strain_b", "cell strain ε_b", "+.5f"),
         ("strain_c", "cell strain ε_c", "+.5f"), ("U", "Caglioti U (deg²)", ".5g"),
         ("V", "Caglioti V (deg²)", ".5g"), ("W", "Caglioti W (deg²)", ".5g"),
         ("P", "Scherrer P (deg²)", ".5g"), ("eta", "pseudo-Voigt η", ".3f"),
         ("rho", "asymmetry ρ", "+.3f"), ("ratio", "Kα2/Kα1 ratio", ".3f"),
         ("b_extra", "extra B (Å²)", "+.3f"), ("po_r", "March–Dollase r", ".3f"))


@click.command("calibrate")
@click.argument("measured", type=click.Path(exists=True, dir_okay=False))
@click.option("--cif", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CIF of the phase in the sample (a standard such as LaB6 or Si, or any "
                   "known single phase).")
@click.option("--wavelength", default=None,
              help="λ when the file states none: Å or a name (CuKa, CuKa1, MoKa1, ...). "
                   "A Kα or Kα1 wavelength is fitted as the Kα1 + Kα2 doublet.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Config to write (YAML), ranges centred on the fitted instrument.")
@click.option("--png", default=None, type=click.Path(dir_okay=False),
              help="Plot of measured vs fitted pattern and the difference.")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write every fitted number as JSON ('-' for stdout).")
@click.option("--base", default="train", show_default=True,
              help="Config (preset or file) whose other ops the output keeps.")
@click.option("--band", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.2,
              show_default=True,
              help="Relative half-width of the output's ranges around each fitted value.")
@click.option("--radius", type=float, default=240.0, show_default=True,
              help="Goniometer radius in mm (sample displacement Δ2θ = −2s·cosθ/R).")
@click.option("--fix-cell", is_flag=True,
              help="Keep the CIF cell (certified standard); sample displacement is then fitted.")
@click.option("--displacement/--no-displacement", default=None,
              help="Fit the sample displacement [default: only with --fix-cell].")
@click.option("--no-hump", is_flag=True, help="No amorphous hump in the background.")
@click.option("--monochromatic", is_flag=True,
              help="One line per reflection even for a Kα wavelength (Kα1-only optics).")
@click.option("--no-preferred-orientation", is_flag=True,
              help="Do not try March–Dollase preferred orientation.")
@click.option("--background-degree", type=int, default=6, show_default=True,
              help="Highest Chebyshev order of the background.")
@handles_library_errors
def calibrate(measured, cif, wavelength, output, png, json_path, base, band, radius, fix_cell,
              displacement, no_hump, monochromatic, no_preferred_orientation, background_degree):
    """Fit scale, zero shift, displacement, cell strain, U V W P, η, asymmetry, Kα2 ratio,
    background, noise level and preferred orientation to MEASURED, a pattern of the phase
    in --cif, by least squares; print Rwp and the fitted values; write a simulation config
    whose ranges centre on that instrument (-o), e.g. to simulate training data for it.

    Exit codes: 0 fitted; 2 usage error; 3 unreadable input or a failed fit (the message
    names the file and the fix).
    """
    from pathlib import Path

    from xrdsim.calibration.fit import CalibrationSettings
    from xrdsim.calibration.fit import calibrate as fit
    from xrdsim.calibration.inputs import read_known_phase, read_measured
    from xrdsim.calibration.instrument import instrument_config, write_config

    settings = CalibrationSettings(radius=radius, fix_cell=fix_cell, displacement=displacement,
                                   hump=not no_hump, monochromatic=monochromatic,
                                   background_degree=background_degree,
                                   preferred_orientation=not no_preferred_orientation)
    pattern = read_measured(measured, wavelength=wavelength)
    structure = read_known_phase(cif, measured=measured)
    result = fit(pattern, structure, settings=settings, cif=Path(cif).name)
    config = write_config(instrument_config(result, base=base, band=band), output,
                          result=result)
    if json_path == "-":
        echo_json(result.to_dict())
    else:
        _print(result)
        if json_path:
            from xrdsim.files import write_json

            write_json(json_path, result.to_dict(), indent=1, ensure_ascii=False)
    if png:
        from xrdsim.calibration.figure import plot_calibration

        plot_calibration(result, png)
    click.echo(f"config -> {config}" + (f", plot -> {png}" if png else ""), err=json_path == "-")


def _print(result) -> None:
    v, p = result.values, result.values["parameters"]
    click.echo(f"{result.source} against {result.cif} ({v['formula']}, {v['lines']}, "
               f"λ {v['wavelength']:.5f} Å, {v['n_points']} points, {v['n_lines']} lines)")
    click.echo(f"  Rwp {v['rwp']:.2f} %  (Rexp {v['rexp']:.2f} %)")
    fixed = {"displacement": not v["settings"]["displacement"],
             **{f"strain_{a}": v["settings"]["fix_cell"] for a in "abc"}}
    for key, label, fmt in SHOWN:
        if key in p:
            click.echo(f"  {label:<24} {format(p[key], fmt)}"
                       + ("  (fixed)" if fixed.get(key) else ""))
    po = v["preferred_direction"]
    click.echo(f"  {'preferred direction':<24} {'none' if po is None else tuple(po)}")
    lo, hi = v["fwhm_range"]
    click.echo(f"  {'FWHM over the scan (°)':<24} {lo:.4f} – {hi:.4f}")
    noise = v["noise"]
    click.echo(f"  {'counts at peak maximum':<24} {noise['counts_equivalent']:.4g} "
               f"(noise at background {100 * noise['noise_at_background']:.2f} % of the maximum)")
    hump = v["background"]["hump"]
    if hump is not None:
        click.echo(f"  {'amorphous hump':<24} {hump['center']:.1f}°, FWHM {hump['fwhm']:.1f}°, "
                   f"{100 * hump['height_relative']:.1f} % of the maximum")
    if v["b_extra_note"]:
        click.echo(f"  note: {v['b_extra_note']}")
