"""Entry point of the ``xrdsim`` command.

Sub-commands are imported lazily: ``xrdsim --help`` never imports torch or compiles
numba kernels. Each sub-command lives in its own module of this package and is a
thin layer over one library call.

Exit codes (all commands):
    0  success (for batch commands: every input processed, failures recorded)
    1  the command ran but some inputs failed (batch commands say how many)
    2  usage error (bad option, missing file) — click's own code
    3  a library error (XrdsimError): bad config, refused resume, unreadable store, ...
  130  interrupted (Ctrl-C): one line; `build` keeps its finished shards for --resume
"""

from __future__ import annotations

import importlib
from typing import Any

import click
from xrdsim_cli._common import warn_deprecated

from xrdsim import __version__

# command name -> ("module:attribute", one-line help shown by ``xrdsim --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "calibrate": ("xrdsim_cli.calibrate:calibrate",
                  "Fit an instrument to a measured pattern of a known phase -> config."),
    "build": ("xrdsim_cli.build:build", "CIFs / CSVs / peak DB -> sharded Zarr v3 dataset."),
    "index": ("xrdsim_cli.index:index", "Measured files -> unit cells by powder indexing."),
    "inspect": ("xrdsim_cli.inspect:inspect", "Summarise a dataset store; example-pattern PNG."),
    "mix": ("xrdsim_cli.mix:mix", "Real + synthetic structures at a ratio -> one input."),
    "peaks": ("xrdsim_cli.peaks:peaks", "Structures (CIF / CSV) -> labelled HDF5 peak database."),
    "peaks-info": ("xrdsim_cli.peaks:peaks_info", "Summarise an HDF5 peak database."),
    "prepare": ("xrdsim_cli.prepare:prepare", "Measured pattern files onto the model grid (Zarr)."),
    "train": ("xrdsim_cli.train:train",
              "Train a CS/EG/SG classifier (CNNstatic, DIFCON, ..., HAND)."),
    "evaluate": ("xrdsim_cli.evaluate:evaluate",
                 "Score a trained run on a store's test splits or labelled measured files."),
    "export-model": ("xrdsim_cli.export_model:export_model",
                     "A trained run -> one weights-only model file (.npz)."),
    "simulate": ("xrdsim_cli.simulate:simulate", "One structure -> patterns (npy/csv/xy/png)."),
    "sources": ("xrdsim_cli.sources:sources", "Fetch AFLOW / Avogadro CIFs, deduplicated."),
    "synth": ("xrdsim_cli.synth:synth", "Synthetic crystals per space group -> CSV.gz."),
    "predict": ("xrdsim_cli.predict:predict",
                "Measured files -> CS / EG / SG with the bundled model or a trained one."),
    "series": ("xrdsim_cli.main:series",
               "Phase-transition series (sun2023): simulate / prepare / train / predict / "
               "evaluate."),
    "verify": ("xrdsim_cli.verify:verify", "Check a dataset store's completeness and checksums."),
}
#: ``xrdsim series`` sub-commands, as :data:`COMMANDS`.
SERIES_COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("xrdsim_cli.series:simulate", "Structures -> labelled phase-transition series."),
    "prepare": ("xrdsim_cli.series:prepare", "Measured files -> a series store."),
    "train": ("xrdsim_cli.series_train:train", "SpecRR / SpecMoco on series."),
    "predict": ("xrdsim_cli.series_predict:predict",
                "Series -> before / during / after, transition intervals."),
    "evaluate": ("xrdsim_cli.series_predict:evaluate",
                 "Per-series accuracy table (sun2023 Table 1)."),
}
#: Old spellings -> (their command, the spelling to use). They run for one more release,
#: hidden from ``--help``, after one warning line on stderr.
DEPRECATED: dict[str, tuple[str, str]] = {
    "hand": ("xrdsim_cli.hand:hand", "train --method hand / predict --model RUN FILES / "
             "evaluate RUN --measured FILES --labels CSV"),
    "series-prepare": (SERIES_COMMANDS["prepare"][0], "series prepare"),
    "series-train": (SERIES_COMMANDS["train"][0], "series train"),
    "series-predict": (SERIES_COMMANDS["predict"][0], "series predict"),
    "series-evaluate": (SERIES_COMMANDS["evaluate"][0], "series evaluate"),
}


def _load(target: str) -> click.Command:
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when it is used.

    ``lazy_commands``: name -> ("module:attribute", help line); ``old_spellings``: old name
    -> ("module:attribute", new spelling).
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]],
                 old_spellings: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands
        self.old_spellings = old_spellings or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.old_spellings:
            target, new = self.old_spellings[name]
            warn_deprecated(name, new)
            return _load(target)
        if name not in self.lazy_commands:
            return None
        return _load(self.lazy_commands[name][0])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy_commands[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class SeriesGroup(LazyGroup):
    """``xrdsim series``; the old ``xrdsim series STRUCTURES ...`` (no sub-command) still
    simulates, after the deprecation line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.lazy_commands and args[0] not in ctx.help_option_names:
            warn_deprecated("series STRUCTURES ...", "series simulate STRUCTURES ...")
            args = ["simulate", *args]
        return super().parse_args(ctx, args)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, old_spellings=DEPRECATED,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xrdsim")
def cli() -> None:
    """Fast, reproducible powder-XRD simulation and datasets for machine learning."""


@click.group(cls=SeriesGroup, lazy_commands=SERIES_COMMANDS)
def series() -> None:
    """Phase-transition series (sun2023): simulate them from structures or prepare measured
    ones into a series store, train SpecRR / SpecMoco on it, predict transitions, score
    runs (docs/series.md)."""
