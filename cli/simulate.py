"""``xrdsim simulate``: one structure's peaks → full pattern(s) as .npy, .csv or .png."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from xrdsim_cli._common import echo_json, handles_library_errors

from xrdsim.errors import ConfigError, XrdsimError
from xrdsim.plotting import pyplot, save_figure


def _load_peaks(cif: Path | None, peaks_db: Path | None, structure_id: str | None, wavelength):
    """(PeakList, cell, structure id) from a CIF file or a peak database entry.

    The PeakList's hkl index its lines in ``cell`` (a, b, c, α, β, γ), spglib's
    standardised cell, as preferred orientation and lattice strain need them.
    """
    if (cif is None) == (peaks_db is None):
        raise click.UsageError("give exactly one of --cif FILE or --peaks DB (with --id ID)")
    if peaks_db is not None:
        if structure_id is None:
            raise click.UsageError("--peaks DB needs --id ID (a structure id of the database)")
        from xrdsim.peaks.database import PeakDatabase
        from xrdsim.wavelengths import check_peak_wavelength

        with PeakDatabase(peaks_db) as db:
            check_peak_wavelength(db.attrs["wavelength"], wavelength,
                                  source=f"peak database {peaks_db}")
            db.require_standard_hkl()
            i = db.index(structure_id)
            return db.peaks(i), db.cells([i])[0], structure_id
    from dataclasses import replace

    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.structures.reader import read_structures
    from xrdsim.structures.symmetry import structure_labels

    for record in read_structures(cif):
        if isinstance(record, XrdsimError):
            raise record
        if structure_id is None or record.structure_id == structure_id:
            peaks = compute_peaks(record.structure, wavelength=wavelength)
            labels = structure_labels(record.structure)
            peaks = replace(peaks, hkl=labels.standard_miller(peaks.hkl))
            return peaks, labels.lattice, record.structure_id
    raise ConfigError(f"{cif}: no structure with id {structure_id!r}")


def _write_xy(output: Path, rows: list[tuple[str, np.ndarray]], *, header: str) -> list[Path]:
    """One two-column text file (2θ in degrees, intensity) per pattern; a single pattern
    goes to ``output``, several to ``<stem>_<config>_view_<k>.xy`` beside it."""
    from xrdsim.grid import grid_centers

    paths = [output] if len(rows) == 1 else [
        output.with_name(f"{output.stem}_{label.replace(' ', '_')}.xy") for label, _ in rows]
    for path, (label, pattern) in zip(paths, rows, strict=True):
        np.savetxt(path, np.column_stack([grid_centers(), pattern]), fmt="%.7g",
                   header=f"{header}, {label}\n2theta intensity")
    return paths


def _plot(path: Path, peaks, rows: list[tuple[str, np.ndarray]], title: str) -> None:
    plt = pyplot()

    from xrdsim.grid import grid_centers

    fig, axes = plt.subplots(len(rows) + 1, 1, figsize=(10, 2.0 + 1.9 * len(rows)), sharex=True)
    axes[0].vlines(peaks.two_theta, 0, peaks.intensity, color="k", lw=0.8)
    axes[0].set_ylabel("Bragg lines")
    axes[0].set_title(title)
    for ax, (label, pattern) in zip(axes[1:], rows, strict=True):
        ax.plot(grid_centers(), pattern, lw=0.6)
        ax.set_ylabel("intensity")
        ax.text(0.99, 0.85, label, transform=ax.transAxes, ha="right", fontsize=8)
    axes[-1].set_xlabel(f"2θ (degrees, λ = {peaks.wavelength:.4f} Å)")
    axes[-1].set_xlim(0, 120)
    save_figure(fig, path, dpi=130)


@click.command("simulate")
@click.option(
    "--cif",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CIF file (or CSV of CIF text) of the structure; the first one, or --id.",
)
@click.option(
    "--peaks",
    "peaks_db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="HDF5 peak database (from `xrdsim peaks`); needs --id.",
)
@click.option("--id", "structure_id", default=None, help="Structure id in the CIF/CSV or database.")
@click.option(
    "--config",
    "configs",
    required=True,
    multiple=True,
    help="Preset (das2025, train, invariance, extrapolation, series) or YAML/TOML/JSON "
    "file; repeat to "
    "simulate the same structure under several configs.",
)
@click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option(
    "--views",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Views per config (view indices 0…n−1).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output: .npy (configs×views, 12000) float32, .csv (2θ + one column per "
    "pattern), .xy (2θ and intensity, one file per pattern: OUT, or OUT_<config>_view_<k>.xy "
    "for several, e.g. nio_das2025_view_0.xy) or .png (sticks and profiles).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sampled parameters as JSON.")
@handles_library_errors
def simulate(cif, peaks_db, structure_id, configs, seed, views, output, as_json):
    """Simulate full 12,000-bin patterns of one structure.

    Texture and lattice strain act on the lines indexed in the structure's standardised
    cell (a peak database written before format 3 is refused: rebuild it).

    \b
    Examples:
      xrdsim simulate --cif NiO.cif --config train --seed 1 -o nio.png
      xrdsim simulate --peaks peaks.h5 --id mp-149 --config train --config invariance \\
          --views 2 -o si.npy
    \b
    Exit codes: 0 written; 2 usage error; 3 library error (bad config, bad CIF, unknown id).
    """
    from xrdsim.simulation.config import load_config
    from xrdsim.simulation.simulator import simulate as simulate_one
    from xrdsim.simulation.simulator import structure_key

    suffix = output.suffix.lower()
    if suffix not in (".npy", ".csv", ".xy", ".png"):
        raise click.BadParameter(f"{output}: use a .npy, .csv, .xy or .png file name",
                                 param_hint="-o")
    cfgs = [load_config(c) for c in configs]
    peaks, cell, sid = _load_peaks(cif, peaks_db, structure_id, cfgs[0].wavelength)
    rows, report = [], []
    for spec, cfg in zip(configs, cfgs, strict=True):
        for view in range(views):
            pattern, params = simulate_one(peaks, cfg, seed=seed, structure_key=structure_key(sid),
                                           view=view, cell=cell)  # fmt: skip
            rows.append((f"{cfg.name or spec} view {view}", pattern))
            report.append({"config": cfg.name or str(spec), "view": view, "params": params})
    if suffix == ".npy":
        np.save(output, np.stack([p for _, p in rows]).astype(np.float32))
    elif suffix == ".csv":
        from xrdsim.grid import grid_centers

        table = np.column_stack([grid_centers()] + [p for _, p in rows])
        header = "two_theta," + ",".join(label.replace(" ", "_") for label, _ in rows)
        np.savetxt(output, table, delimiter=",", header=header, comments="", fmt="%.7g")
    elif suffix == ".xy":
        written = _write_xy(output, rows, header=f"xrdsim simulate: {sid}, seed {seed}, "
                            f"lambda {cfgs[0].wavelength} A")
    else:
        _plot(output, peaks, rows, f"{sid}: {len(peaks.two_theta)} Bragg lines, seed {seed}")
    summary = {"structure_id": sid, "output": str(output), "patterns": report}
    if suffix == ".xy":
        summary["files"] = [str(p) for p in written]
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"wrote {output}: {len(rows)} pattern(s) of {sid}")
