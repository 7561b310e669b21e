"""Does a contrastive run collapse with few optimiser steps per epoch? (issue 31, item 13)

Builds the test suite's small store (28 MP-20 structures, tests/training/training_store.py)
under ``--work``, trains barlow (2 pre-training + 1 fine-tuning epochs, batch 8) with each
``--steps`` per epoch for two small models, and prints the end-of-training check of ``h``
(:func:`xrdsim_training.evaluation.collapse.representation_spread`). Run from the
repository root::

    python benchmarks/experiments/collapse_steps.py --work /tmp/collapse --steps 1 3 10 30

The table in docs/training.md ("Too few steps, collapsed representations") is its output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = {"width 4, depth 2, h of 16": dict(width=4, depth=2, embed_dim=16, projector_dim=32,
                                            pool_length=4),
          "width 8, depth 3, h of 64": dict(width=8, depth=3, embed_dim=64, projector_dim=64,
                                            pool_length=8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 10, 30])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    import torch
    from xrdsim_training import trainer
    from xrdsim_training.config import ModelConfig, TrainConfig

    sys.path.insert(0, str(REPO / "tests" / "training"))
    from training_store import build_small_store

    torch.set_num_threads(1)
    store = args.work / "store" / "small.zarr"
    if not store.exists():
        build_small_store(store.parent, args.data / "structures" / "mp20_test.csv.gz")
    rows = []
    for name, model in MODELS.items():
        for steps in args.steps:
            run = args.work / f"run_{model['width']}_{steps}"
            shutil.rmtree(run, ignore_errors=True)
            config = TrainConfig(method="barlow", pretrain_epochs=2, epochs=1, batch_size=8,
                                 lr=2e-3, steps_per_epoch=steps, model=ModelConfig(**model),
                                 val_max_patterns=32, device="cpu")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = trainer.train(config, run_dir=run, data=store,
                                       peaks=str(store) + ".peaks.h5", progress=False)
            spread = result.representation
            rows.append({"model": name, "steps_per_epoch": steps,
                         **{k: spread[k] for k in ("dims", "collapsed_dims",
                                                   "median_relative_std", "collapsed")}})
            print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
