"""``xrdsim build``: CIFs / CSVs / a peak database → a sharded Zarr v3 dataset."""

from __future__ import annotations

import sys

import click
from xrdsim_cli._common import (
    EXIT_PARTIAL,
    echo_json,
    echoed_warnings,
    existing_inputs,
    handles_library_errors,
    library_errors,
)


@click.command("build")
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@click.option("-o", "--output", default="dataset.zarr", show_default=True,
              type=click.Path(), help="Zarr store to write (a folder).")
@click.option("--train-config", default="train", show_default=True,
              help="Preset name or config file for train / equivariance.")
@click.option("--invariance-config", default="invariance", show_default=True,
              help="Preset name or config file for invariance / held_out_invariance.")
@click.option("--extra-split", "extra_split", multiple=True, metavar="NAME=CONFIG",
              help="A further split of the train structures rendered by CONFIG (preset or "
                   "file), e.g. extrapolation=extrapolation. Repeatable.")
@click.option("--views-train", default=6, show_default=True, help="Views per train structure.")
@click.option("--views-test", default=2, show_default=True,
              help="Views per structure in the three test splits.")
@click.option("--test-fraction", default=0.1, show_default=True,
              help="Fraction of real structures held out (whole formula+space-group groups; "
                   "crystals of `xrdsim synth` always stay in train).")
@click.option("--seed", default=0, show_default=True, help="Build seed.")
@click.option("--workers", default=None, type=int,
              help="Processes (default: auto = in-process for small builds, else all "
                   "cores; 1 runs in-process). Never changes the bytes.")
@click.option("--scheduler", default=None, help="dask.distributed scheduler address.")
@click.option("--resume", is_flag=True, help="Continue an interrupted build of --output.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.option("--shard-size", default=1024, show_default=True,
              help="Patterns per shard (one work unit, one file per array).")
@click.option("--chunk-size", default=256, show_default=True,
              help="Patterns per compressed chunk; must divide --shard-size.")
@click.option("--dtype", type=click.Choice(["float16", "float32"]), default="float16",
              show_default=True, help="Pattern dtype on disk.")
@click.option("--manifest-dir", default="data_manifests", show_default=True,
              type=click.Path(), help="Folder of the build manifest <name>.json.")
@click.option("--name", default=None, help="Manifest name (default: the store's stem).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@handles_library_errors
def build(sources, output, train_config, invariance_config, extra_split, views_train, views_test,
          test_fraction, seed, workers, scheduler, resume, overwrite, shard_size, chunk_size,
          dtype, manifest_dir, name, as_json, quiet) -> None:
    """Build a dataset from SOURCES (CIFs, folders, CSV(.gz), or one peak .h5).

    Without SOURCES the bundled 504 MP-20 structures are used. Exit code 1 when
    some inputs failed (they are listed in the manifest and absent from the store; the
    most common reasons are printed, every one by `xrdsim peaks-info OUTPUT.peaks.h5
    --errors`). Ctrl-C stops the build with one line and exit code 130; the finished
    shards are kept, and the same command with --resume continues it to the same bytes.
    """
    from xrdsim.dataset.build import build_dataset

    extra = {}
    for item in extra_split:
        split, sep, config = item.partition("=")
        if not sep or not split or not config:
            raise click.BadParameter(f"expected NAME=CONFIG, got {item!r}",
                                     param_hint="--extra-split")
        extra[split] = config
    resume_hint = ("the finished shards are kept; run the same command with --resume to "
                   "continue")
    with library_errors(interrupted=resume_hint), echoed_warnings():
        summary = build_dataset(
            existing_inputs(sources, param="SOURCES", kind="structures"), output,
            train_config=train_config, invariance_config=invariance_config,
            extra_splits=extra,
            views_train=views_train, views_test=views_test, test_fraction=test_fraction,
            seed=seed, shard_size=shard_size, chunk_size=chunk_size, dtype=dtype,
            workers=workers, scheduler=scheduler, resume=resume, overwrite=overwrite,
            manifest_dir=manifest_dir, name=name, progress=not quiet)
    info = {"path": str(summary.path), "manifest": str(summary.manifest_path),
            "n_structures": summary.n_structures, "n_failed": summary.n_failed,
            "n_patterns": summary.n_patterns, "shards_written": summary.shards_written,
            "shards_reused": summary.shards_reused, "seconds": round(summary.seconds, 2),
            "peaks": str(summary.peaks_path), "failure_reasons": summary.failure_reasons}
    if as_json:
        echo_json(info)
    else:
        splits = ", ".join(f"{k} {v}" for k, v in summary.n_patterns.items())
        click.echo(f"{summary.path}: {summary.n_structures} structures "
                   f"({summary.n_failed} failed), patterns: {splits}; "
                   f"{summary.shards_written} shards written, {summary.shards_reused} reused, "
                   f"{summary.seconds:.1f} s; manifest {summary.manifest_path}")
    if summary.n_failed:
        click.echo(f"{summary.n_failed} input(s) failed; most common reasons:", err=True)
        for reason, count in summary.failure_reasons.items():
            click.echo(f"  {count:6d}  {reason}", err=True)
        click.echo(f"every failure: xrdsim peaks-info {summary.peaks_path} --errors"
                   + (f" (or the manifest {summary.manifest_path})"
                      if summary.manifest_path else ""), err=True)
        sys.exit(EXIT_PARTIAL)
