"""Entry point of the ``xrdsim`` command.

Sub-commands are imported lazily: ``xrdsim --help`` never imports torch or compiles
numba kernels. Each sub-command lives in its own module of this package and is a
thin layer over one library call.

Exit codes (all commands):
    0  success (for batch commands: every input processed, failures recorded)
    1  the command ran but some inputs failed (batch commands say how many)
    2  usage error (bad option, missing file) — click's own code
    3  a library error (XrdsimError): bad config, refused resume, unreadable store, ...
"""

from __future__ import annotations

import importlib

import click

from xrdsim import __version__

# command name -> ("module:attribute", one-line help shown by ``xrdsim --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "calibrate": ("xrdsim_cli.calibrate:calibrate",
                  "Fit an instrument to a measured pattern of a known phase -> config."),
    "build": ("xrdsim_cli.build:build", "CIFs / CSVs / peak DB -> sharded Zarr v3 dataset."),
    "inspect": ("xrdsim_cli.inspect:inspect", "Summarise a dataset store; example-pattern PNG."),
    "mix": ("xrdsim_cli.mix:mix", "Real + synthetic structures at a ratio -> one input."),
    "peaks": ("xrdsim_cli.peaks:peaks", "Structures (CIF / CSV) -> labelled HDF5 peak database."),
    "peaks-info": ("xrdsim_cli.peaks:peaks_info", "Summarise an HDF5 peak database."),
    "prepare": ("xrdsim_cli.prepare:prepare", "Measured pattern files onto the model grid (Zarr)."),
    "hand": ("xrdsim_cli.hand:hand", "HAND baseline: train / predict / evaluate (peak features)."),
    "train": ("xrdsim_cli.train:train", "Train a CS/EG/SG classifier (CNNstatic, DIFCON, ...)."),
    "evaluate": ("xrdsim_cli.evaluate:evaluate", "Score a trained run on a store's test splits."),
    "simulate": ("xrdsim_cli.simulate:simulate", "One structure -> patterns (npy/csv/xy/png)."),
    "sources": ("xrdsim_cli.sources:sources", "Fetch AFLOW / Avogadro CIFs, deduplicated."),
    "synth": ("xrdsim_cli.synth:synth", "Synthetic crystals per space group -> CSV.gz."),
    "predict": ("xrdsim_cli.predict:predict", "Measured files -> CS / EG / SG with a trained run."),
    "series": ("xrdsim_cli.series:series", "Structures -> labelled phase-transition series."),
    "series-prepare": ("xrdsim_cli.series:series_prepare", "Measured files -> a series store."),
    "series-train": ("xrdsim_cli.series_train:series_train", "SpecRR / SpecMoco on series."),
    "series-predict": ("xrdsim_cli.series_predict:series_predict",
                       "Series -> before / during / after, transition intervals."),
    "series-evaluate": ("xrdsim_cli.series_predict:series_evaluate",
                        "Per-series accuracy table (sun2023 Table 1)."),
    "verify": ("xrdsim_cli.verify:verify", "Check a dataset store's completeness and checksums."),
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xrdsim")
def cli() -> None:
    """Fast, reproducible powder-XRD simulation and datasets for machine learning."""
