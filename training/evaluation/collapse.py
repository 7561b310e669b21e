"""Signs that a run learned no usable representation: too few contrastive steps, a collapsed ``h``.

Two checks, used by the trainer (:mod:`xrdsim_training.trainer`) and by
:func:`xrdsim_training.evaluation.evaluate.evaluate_run`:

- :func:`too_few_steps`: a contrastive epoch (Barlow Twins, NT-Xent) with fewer optimiser
  steps than :data:`MIN_CONTRASTIVE_STEPS`. Both losses are batch statistics (the
  cross-correlation matrix of the two views' standardised projections, or the softmax over
  the other views of the batch): each step sees one batch's estimate of them, and a
  pre-training phase of a handful of such steps leaves the encoder near its
  initialisation while the cosine schedule has already decayed the learning rate.
- :func:`representation_spread`: per-dimension standard deviation of the embeddings over
  many patterns. A collapsed encoder maps every pattern to (nearly) the same ``h``: the
  heads then give every file the same answer whatever its pattern.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Fewest optimiser steps a contrastive (Barlow Twins / NT-Xent) epoch should have. A
#: smaller epoch draws one warning line and a ``warning`` in that epoch's metrics row.
#: Measured (benchmarks/experiments/collapse_steps.py): tiny barlow runs with 1 or 3 steps per
#: epoch collapse, with 10 or 30 they do not; docs/training.md
#: ("Too few steps, collapsed representations") for the runs behind the number.
MIN_CONTRASTIVE_STEPS = 10
#: A dimension of ``h`` is collapsed when its standard deviation over the patterns is below
#: this fraction of the RMS of all of ``h``: the dimension carries under 1 % of the
#: typical signal, i.e. the same value for every pattern.
COLLAPSED_DIM_REL_STD = 0.01
#: The representation is flagged as collapsed when at least this fraction of its
#: dimensions is collapsed ("most dimensions").
COLLAPSED_FRACTION = 0.5
#: Patterns the trainer embeds for the end-of-training check.
CHECK_PATTERNS = 256


def too_few_steps(steps: int, *, objective: str) -> str:
    """The warning for a contrastive epoch of ``steps`` optimiser steps, or ``""``."""
    if objective == "supervised" or steps >= MIN_CONTRASTIVE_STEPS:
        return ""
    return (f"the {objective} epochs have {steps} optimiser step(s) each, fewer than the "
            f"{MIN_CONTRASTIVE_STEPS} a contrastive objective needs (its loss is a batch "
            "statistic); the representation is likely to collapse — raise --steps-per-epoch, "
            "lower --batch-size, or train on more structures")


def representation_spread(h: np.ndarray) -> dict[str, Any]:
    """How much each dimension of the embeddings ``h`` varies over the patterns.

    Args:
        h: (n, d) embeddings of n ≥ 2 patterns.

    Returns:
        ``{"n", "dims", "rms", "median_relative_std", "collapsed_dims", "collapsed"}``:
        relative std of dimension j = std_j / RMS(h) (``rms`` = sqrt(mean(h²))); a
        dimension is collapsed below :data:`COLLAPSED_DIM_REL_STD`, the representation
        when at least :data:`COLLAPSED_FRACTION` of its dimensions are.
    """
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] < 2:
        raise ValueError(f"need (n >= 2, d) embeddings, got shape {h.shape}")
    rms = float(np.sqrt(np.mean(h * h)))
    rel = h.std(axis=0) / rms if rms > 0 else np.zeros(h.shape[1])
    collapsed = int(np.sum(rel < COLLAPSED_DIM_REL_STD))
    return {"n": int(h.shape[0]), "dims": int(h.shape[1]), "rms": rms,
            "median_relative_std": float(np.median(rel)), "collapsed_dims": collapsed,
            "collapsed": bool(collapsed >= COLLAPSED_FRACTION * h.shape[1])}


def collapse_warning(spread: dict[str, Any], *, where: str) -> str:
    """One line for a collapsed representation (``where``: which patterns), or ``""``."""
    if not spread["collapsed"]:
        return ""
    return (f"the representation h has collapsed on {where}: {spread['collapsed_dims']} of "
            f"{spread['dims']} dimensions vary by less than {COLLAPSED_DIM_REL_STD:.0%} of "
            f"its RMS over {spread['n']} patterns (median {spread['median_relative_std']:.2g})"
            ", so every pattern gets nearly the same prediction; train with more optimiser "
            "steps per epoch (--steps-per-epoch) or more data")
