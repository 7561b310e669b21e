"""``xrdsim train``: train a model on a dataset store or on views simulated on the fly.

The methods and the runner of each are :data:`xrdsim_training.methods.METHODS` (torch-free);
a runner is called as ``function(options, *, run_dir, data, peaks, config_file, resume,
progress)`` where ``options`` are the hyper-parameter flags (``None`` where not given).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import click
from xrdsim_cli._common import echo_json, echoed_warnings, handles_library_errors
from xrdsim_training.methods import METHODS


def _runner(method: str):
    module, attribute = METHODS[method].runner.split(":")
    return getattr(importlib.import_module(module), attribute)


@click.command("train")
@click.option("--method", required=True, type=click.Choice(list(METHODS)),
              help=", ".join(f"{name} ({m.description})" for name, m in METHODS.items()) + ".")
@click.option("--data", type=click.Path(exists=True, path_type=Path),
              help="dataset.zarr: training shards (supervised), train structures and "
                   "validation split (all methods; hand: fit the train structures only).")
@click.option("--peaks", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="peaks.h5 for the on-the-fly methods (supervised-aug, barlow, simclr) "
                   "and hand.")
@click.option("--config", "sim_config", default=None,
              help="Simulation preset or YAML for on-the-fly views [default: train].")
@click.option("--train-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON/YAML file of training settings; flags override it.")
@click.option("-o", "--output", "run_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Run directory to write.")
@click.option("--epochs", type=click.IntRange(min=0), help="(Fine-tuning) epochs [10].")
@click.option("--pretrain-epochs", type=click.IntRange(min=0),
              help="Representation epochs of barlow / simclr before fine-tuning [10]; "
                   "each phase has its own cosine learning-rate decay.")
@click.option("--pretrain-supervised-weight", type=click.FloatRange(0),
              help="barlow / simclr: weight w of the supervised CE of both views added to "
                   "the contrastive loss in pre-training (0 = self-supervised) [0].")
@click.option("--batch-size", type=click.IntRange(min=2), help="Patterns per step [128].")
@click.option("--lr", type=float, help="Peak AdamW learning rate [1e-3].")
@click.option("--weight-decay", type=float, help="AdamW weight decay [1e-4].")
@click.option("--class-balance", type=click.FloatRange(0, 1),
              help="β of the class weights n_c^-β (0 plain CE, 1 balanced) [0].")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True),
              help="ε of the supervised targets [0].")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True),
              help="Decay of a moving average of the weights that validation, best.pt and "
                   "predict use, e.g. 0.999 (0 = off) [0].")
@click.option("--patience", type=click.IntRange(min=0),
              help="Stop after this many epochs without a better validation score; the "
                   "best epoch is kept as best.pt (0 = never stop) [0].")
@click.option("--width", type=click.IntRange(min=1), help="Channels of the first stage [8].")
@click.option("--depth", type=click.IntRange(min=1), help="Residual stages [5].")
@click.option("--embed-dim", type=click.IntRange(min=1), help="Representation size [256].")
@click.option("--projector-dim", type=click.IntRange(min=1), help="RH output size [1024].")
@click.option("--view-two-theta", type=(float, float), default=None,
              help="2θ window LO HI (degrees) the network sees, zeros outside [5 90].")
@click.option("--view-background", type=click.Choice(["snip", "none"]), default=None,
              help="Subtract a SNIP background in the input view (as for measured files) "
                   "[snip].")
@click.option("--view-crop/--no-view-crop", default=None,
              help="Encoder sees only the window's bins, not the 12,000-bin grid "
                   "[no-view-crop].")
@click.option("--view-pool", type=click.IntRange(min=1, max=100), default=None,
              help="0.01° bins averaged into one input sample [1].")
@click.option("--steps-per-epoch", type=click.IntRange(min=0),
              help="On-the-fly methods: steps per epoch (0 = one pass over the structures).")
@click.option("--shuffle-buffer", type=click.IntRange(min=1), help="Shuffle-buffer rows [4096].")
@click.option("--val-max-patterns", type=click.IntRange(min=0),
              help="Validation patterns scored per epoch (0 = none) [4096].")
@click.option("--workers", type=click.IntRange(min=0), help="DataLoader workers [0].")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of weights, data order, views.")
@click.option("--device", help="auto, cpu, cuda, cuda:N [auto].")
@click.option("--amp/--no-amp", default=None, help="bfloat16 autocast on CUDA [on].")
@click.option("--simulate-on", type=click.Choice(["loader", "device"]), default=None,
              help="On-the-fly views: numba in the data loader, or torch_sim on --device "
                   "with the peak database held there (the GPU path) [loader].")
@click.option("--resume", is_flag=True, help="Continue RUN_DIR from its last checkpoint.")
@click.option("--verify", is_flag=True,
              help="Recompute --data's checksums first; refuse a damaged store.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handles_library_errors
def train(method, data, peaks, sim_config, train_config, run_dir, resume, quiet, verify,
          **flags):
    """Train METHOD into RUN_DIR: config.json, checkpoint.pt (every epoch), metrics.csv and
    metrics.json (one row per epoch), representation.json (the spread of the learned
    representation). Prints the last epoch's metrics as JSON.

    Warns (one line, and in the epoch's metrics row) when a contrastive epoch has fewer
    than 10 optimiser steps, and at the end when the representation has collapsed (most
    of its dimensions the same for every pattern).

    \b
    Examples:
      xrdsim train --method supervised --data dataset.zarr -o runs/static
      xrdsim train --method barlow --peaks peaks.h5 --data dataset.zarr --config train \\
          --pretrain-epochs 20 --epochs 10 -o runs/difcon
      xrdsim train --method barlow ... -o runs/difcon --resume      # after a crash
      xrdsim train --method barlow ... --device cuda --simulate-on device   # views on the GPU
      xrdsim train --method hand --peaks dataset.zarr.peaks.h5 --data dataset.zarr -o runs/hand

    Exit codes: 0 trained; 2 usage error; 3 library error (missing split or labels, a
    checkpoint of another architecture, a non-finite loss, ...).
    """
    if verify and data is not None:
        from xrdsim.dataset.checksums import check_store_for_reading

        check_store_for_reading(data, verify=True)
    options = {"method": method, "sim_config": sim_config, **flags}
    with echoed_warnings(at_once=True):
        result = _runner(method)(options, run_dir=run_dir, data=data, peaks=peaks,
                                 config_file=train_config, resume=resume, progress=not quiet)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # under torchrun only rank 0 reports
    if isinstance(result, dict):  # non-neural methods (hand) report a summary dict
        echo_json(result)
        return
    last = result.history[-1] if result.history else {}
    echo_json({"run_dir": str(result.run_dir), "epochs_completed": result.epochs_completed,
               "last_epoch": last, "representation": result.representation,
               "warnings": list(result.warnings)})
