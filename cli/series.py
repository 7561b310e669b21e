"""``xrdsim series simulate`` (structures → labelled phase-transition series) and
``xrdsim series prepare`` (measured files → a series), into a Zarr series store."""

from __future__ import annotations

import re
from pathlib import Path

import click
from xrdsim_cli._common import echo_json, handles_library_errors

from xrdsim.errors import ConfigError, XrdsimError


def _structures(paths: tuple[Path, ...]) -> list:
    from xrdsim.structures.reader import read_structures

    records = []
    for record in read_structures([str(p) for p in paths]):
        if isinstance(record, XrdsimError):
            click.echo(f"skipped: {record}", err=True)
        else:
            records.append(record)
    return records


def _series_config(path: Path | None, overrides: dict):
    from xrdsim.config_files import read_config_file
    from xrdsim.series.config import SeriesConfig

    data = {}
    if path is not None:  # the capped reader: size, depth, alias expansion (a 334-byte bomb)
        data = read_config_file(path, what="series config") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a series config must be a mapping of settings")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return SeriesConfig.from_dict(data)


@click.command("simulate")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Series store (Zarr); created, or series are added to it.",
)
@click.option(
    "--polymorph",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CIF of the second phase (same composition; one input structure only). "
    "Without it the second phase is a symmetry-lowering distortion.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON mapping of SeriesConfig settings.",
)
@click.option(
    "--variable",
    type=click.Choice(["pressure", "temperature"]),
    default=None,
    help="External variable (default pressure).",
)
@click.option("--start", type=float, default=None, help="Path start (GPa or K).")
@click.option("--stop", type=float, default=None, help="Path stop (GPa or K).")
@click.option("--steps", "n_steps", type=int, default=None, help="Patterns per series.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option(
    "--skip",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Skip the first N structures of the inputs.",
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Use only N structures (after --skip)."
)
@click.option("--overwrite", is_flag=True, help="Replace series of the same name.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
@handles_library_errors
def simulate(
    inputs,
    output,
    polymorph,
    config_path,
    variable,
    start,
    stop,
    n_steps,
    seed,
    skip,
    limit,
    overwrite,
    as_json,
):
    """Simulate one phase-transition series per input structure.

    The series is named after the structure id (and the polymorph's, if given).

    \b
    Examples:
      xrdsim series simulate NiO.cif -o series.zarr --seed 1
      xrdsim series simulate TiO2_141.cif --polymorph TiO2_136.cif --variable temperature \\
          --start 300 --stop 1300 -o series.zarr
      xrdsim series simulate mp20_test.csv.gz --limit 12 --steps 120 -o series.zarr
    \b
    Exit codes: 0 written; 2 usage error; 3 library error (bad config, name exists).
    """
    from xrdsim.series.simulate import simulate_series
    from xrdsim.series.store import check_series_output, write_series

    check_series_output(output)
    cfg = _series_config(
        config_path, {"variable": variable, "start": start, "stop": stop, "n_steps": n_steps}
    )
    records = _structures(inputs)[skip:][:limit]
    if not records:
        raise ConfigError(f"no readable structure in {[str(p) for p in inputs]}")
    second = None
    if polymorph is not None:
        if len(records) != 1:
            raise click.UsageError("--polymorph needs exactly one input structure")
        second = _structures((polymorph,))
        if not second:
            raise ConfigError(f"{polymorph}: no readable structure")
        second = second[0]
    made = []
    for record in records:
        name = record.structure_id + (f"__{second.structure_id}" if second else "")
        name = re.sub(r"[^A-Za-z0-9_.()+-]", "_", name)
        s = simulate_series(
            record.structure,
            name=name,
            config=cfg,
            seed=seed,
            structure_id=record.structure_id,
            polymorph=second.structure if second else None,
            polymorph_id=second.structure_id if second else None,
        )
        write_series(output, [s], overwrite=overwrite)
        made.append(
            {
                "name": name,
                "second_phase": s.attrs["second_phase"],
                "transition": s.attrs["transition"]["interval"],
            }
        )
    if as_json:
        echo_json({"output": str(output), "series": made})
    else:
        click.echo(f"wrote {len(made)} series to {output}")


@click.command("prepare")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Series store (Zarr); created, or the series is added to it.",
)
@click.option("--name", required=True, help="Series name (its group in the store).")
@click.option(
    "--variable",
    type=click.Choice(["pressure", "temperature"]),
    default="pressure",
    show_default=True,
)
@click.option(
    "--values",
    "table",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of 'file,value' rows giving each file's pressure / temperature.",
)
@click.option(
    "--name-pattern",
    default=None,
    help=r"Regex on file names whose first group is the value, e.g. '_(\d+)GPa'.",
)
@click.option("--wavelength", default=None, help="λ of files that state none (Å or a name).")
@click.option("--overwrite", is_flag=True, help="Replace a series of the same name.")
@handles_library_errors
def prepare(files, output, name, variable, table, name_pattern, wavelength, overwrite):
    """Measured FILES, ordered by an external variable, into a series store (unlabelled).

    \b
    Example:
      xrdsim series prepare run_*.chi --name-pattern '_([0-9.]+)GPa' \\
          --wavelength 0.2904 --name feo -o measured.zarr
    \b
    Exit codes: 0 written; 2 usage error; 3 library error (unreadable file, bad values).
    """
    from xrdsim.series.measured import measured_series, variables_from_csv, variables_from_names
    from xrdsim.series.store import check_series_output, write_series

    if (table is None) == (name_pattern is None):
        raise click.UsageError("give exactly one of --values CSV or --name-pattern REGEX")
    check_series_output(output)
    files = list(files)
    values = (
        variables_from_csv(files, table)
        if table is not None
        else variables_from_names(files, name_pattern)
    )
    s = measured_series(files, values, name=name, variable=variable, wavelength=wavelength)
    write_series(output, [s], overwrite=overwrite)
    click.echo(
        f"wrote series {name!r} ({len(files)} patterns, {s.variable[0]:g}–"
        f"{s.variable[-1]:g} {s.attrs['unit']}) to {output}"
    )
