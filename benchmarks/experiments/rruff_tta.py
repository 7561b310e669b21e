"""Test-time augmentation and ensembles of trained networks on rruff_dev.

Run from the repository root (each RUN a run folder or a model file; one or more):

    .venv/bin/python benchmarks/experiments/rruff_tta.py RUN [RUN ...] -o JSON
    .venv/bin/python benchmarks/experiments/rruff_tta.py --no-tta \
        --recipe full=out/runs/b1_fullgrid,out/runs/b2_fullgrid_s1 \
        --recipe w16p4=out/runs/e2_w16p4,out/runs/e3_w16p4_s1 -o JSON

Every labelled file of ``--measured`` is read and put on each model's grid exactly as
``xrdsim predict`` does (:func:`xrdsim_training.measured.predict.model_input`), then scored
as given and under small input changes a measurement could show:

- ``shift±k``: the grid rolled by ``k`` bins of 0.01° (a zero-point error of k·0.01°);
- ``blur{s}``: a Gaussian of σ = ``s`` bins (broader lines).

Per model: CS and SG top-1 accuracy of every variant, and of the mean of the variants'
calibrated probabilities (``tta_all``; ``tta_shift``: the unshifted grid and the
shifts). Across models: the mean of their calibrated probabilities on the unchanged grid
(``ensemble``), and each model's CS / SG top-1 minus the first model's with a 95 %
paired bootstrap interval (the same files resampled for both, 2,000 rounds;
``difference_to_first``).

Recipes (``--recipe NAME=RUN,RUN,...``, each run one training seed of the recipe; the
positional runs may then be left out): each recipe's mean CS / SG top-1 over its seeds,
their range, and every recipe's mean minus the first recipe's with a 95 % interval from a
two-level bootstrap (:func:`recipe_difference`): each round resamples the files, and
the seeds of each recipe, with replacement. The file-only interval of two single runs
counts how many files there are, not how much a second seed moves the score; on rruff_dev
two seeds of one recipe differed by 5.9 CS points, outside their paired file interval
(docs/results/2026-12-08-rruff-dev-seeds.md). ``--no-tta`` scores the unchanged grid only.

SG top-1 here is the arg-max of the joint probability p(cs)·p(sg|cs)
(:func:`~xrdsim_training.models.heads.space_group_probabilities`), which can differ
from ``xrdsim evaluate``'s routed SG. Labels are read only to score.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from xrdsim_training.evaluation.temperature import apply_temperature
from xrdsim_training.measured.labels import read_labels
from xrdsim_training.measured.model_file import LoadedModel, load_model
from xrdsim_training.measured.predict import model_input
from xrdsim_training.models.heads import space_group_probabilities

from xrdsim.files import write_json
from xrdsim.measured.paths import pattern_files
from xrdsim.measured.readers import read_pattern
from xrdsim.structures.crystal_systems import crystal_system_index

VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "base": lambda x: x,
    **{f"shift{k:+d}": partial(np.roll, shift=k, axis=1) for k in (-4, -2, 2, 4)},
    **{f"blur{s}": partial(gaussian_filter1d, sigma=s, axis=1) for s in (2, 4)},
}


def probabilities(loaded: LoadedModel, grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated (N, 7) CS and (N, 230) joint SG probabilities of ``grids``."""
    network = loaded.network.eval()
    with torch.no_grad():
        out = network(torch.from_numpy(grids.astype(np.float32)))
        cs = torch.softmax(out["cs"].float(), 1).numpy()
        sg = space_group_probabilities(out["cs"], out["sg"]).numpy()
    if loaded.temperatures is not None:
        cs = apply_temperature(cs, loaded.temperatures["crystal_system"])
        sg = apply_temperature(sg, loaded.temperatures["space_group"])
    return cs, sg


def recipe_difference(correct_a: np.ndarray, correct_b: np.ndarray, *, rounds: int = 2000,
                      seed: int = 0) -> list[float]:
    """Mean of recipe B minus recipe A in points, with a 95 % two-level bootstrap interval.

    ``correct_a`` (seeds_a, n) and ``correct_b`` (seeds_b, n): 1 where a seed's run is right
    on a file. Each round draws n files with replacement (the same files for both recipes)
    and, per recipe, as many seeds as it has with replacement; a recipe's accuracy is the
    mean over the drawn seeds and files. Returns ``[difference, low, high]``.
    """
    a, b = np.asarray(correct_a, float), np.asarray(correct_b, float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not (len(a) and len(b)):
        raise ValueError(f"expected (seeds, files) arrays over the same files, got {a.shape} "
                         f"and {b.shape}")
    rng = np.random.default_rng(seed)
    n = a.shape[1]
    diffs = np.empty(rounds)
    for r in range(rounds):
        files = rng.integers(0, n, n)
        seeds_a, seeds_b = rng.integers(0, len(a), len(a)), rng.integers(0, len(b), len(b))
        diffs[r] = b[seeds_b][:, files].mean() - a[seeds_a][:, files].mean()
    low, high = np.percentile(diffs, [2.5, 97.5])
    return [round(100 * float(b.mean() - a.mean()), 1), round(100 * float(low), 1),
            round(100 * float(high), 1)]


def parse_recipes(values: list[str]) -> dict[str, list[str]]:
    """``["NAME=RUN,RUN", ...]`` → {NAME: [RUN, ...]} in the order given."""
    recipes: dict[str, list[str]] = {}
    for value in values:
        name, sep, runs = value.partition("=")
        if not sep or not name or not runs or name in recipes:
            raise SystemExit(f"--recipe {value!r}: expected a new NAME=RUN[,RUN...]")
        recipes[name] = [r for r in runs.split(",") if r]
    return recipes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="run folders or model files")
    parser.add_argument("--recipe", action="append", default=[], metavar="NAME=RUN,RUN",
                        help="the seeds of one recipe (repeatable); compared by recipe")
    parser.add_argument("--no-tta", action="store_true", help="score the unchanged grid only")
    parser.add_argument("--measured", default="../shared/data/patterns/rruff_dev")
    parser.add_argument("--labels", default=None, help="labels CSV [MEASURED/labels.csv]")
    parser.add_argument("--wavelength", default="CuKa")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    recipes = parse_recipes(args.recipe)
    args.runs = list(dict.fromkeys([*args.runs, *(r for rs in recipes.values() for r in rs)]))
    if not args.runs:
        parser.error("give RUN arguments or --recipe NAME=RUN,...")
    variants = {"base": VARIANTS["base"]} if args.no_tta else VARIANTS
    torch.set_num_threads(1)
    labels = Path(args.labels or Path(args.measured) / "labels.csv")
    truth = read_labels(labels)
    files = [f for f in pattern_files([args.measured], exclude=[labels]) if f.name in truth]
    sg_true = np.array([truth[f.name] for f in files])
    cs_true = np.array([crystal_system_index(int(s)) for s in sg_true])

    def accuracy(cs: np.ndarray, sg: np.ndarray) -> dict[str, float]:
        return {"cs": round(100 * float(np.mean(cs.argmax(1) == cs_true)), 1),
                "sg": round(100 * float(np.mean(sg.argmax(1) + 1 == sg_true)), 1)}

    result: dict = {"n": len(files), "labels": str(labels), "variants": list(variants),
                    "runs": {}}
    base: list[tuple[np.ndarray, np.ndarray]] = []
    for run in args.runs:
        loaded = load_model(run, device="cpu")
        grids = np.stack([model_input(read_pattern(f, wavelength=args.wavelength), loaded)
                          for f in files])
        probs = {name: probabilities(loaded, fn(grids)) for name, fn in variants.items()}
        scores = {name: accuracy(*p) for name, p in probs.items()}
        for label, names in (() if args.no_tta else
                             (("tta_all", list(VARIANTS)),
                              ("tta_shift", [n for n in VARIANTS if not n.startswith("blur")]))):
            scores[label] = accuracy(np.mean([probs[n][0] for n in names], 0),
                                     np.mean([probs[n][1] for n in names], 0))
        result["runs"][run] = scores
        base.append(probs["base"])
        print(run, json.dumps(scores), flush=True)
    rng = np.random.default_rng(0)
    rounds = rng.integers(0, len(files), size=(2000, len(files)))
    first = base[0]
    for run, probs in zip(args.runs[1:], base[1:], strict=True):
        diff = {}
        for task, col, true in (("cs", 0, cs_true), ("sg", 1, sg_true - 1)):
            gain = ((probs[col].argmax(1) == true).astype(float)
                    - (first[col].argmax(1) == true).astype(float))
            means = gain[rounds].mean(1)
            diff[task] = [round(100 * float(gain.mean()), 1),
                          *(round(100 * float(q), 1) for q in np.percentile(means, [2.5, 97.5]))]
        result["runs"][run]["difference_to_first"] = diff
        print(run, "minus", args.runs[0], json.dumps(diff))
    if len(base) > 1:
        result["ensemble"] = accuracy(np.mean([p[0] for p in base], 0),
                                      np.mean([p[1] for p in base], 0))
        print("ensemble", json.dumps(result["ensemble"]))
    if recipes:
        by_run = dict(zip(args.runs, base, strict=True))
        correct = {name: {task: np.stack([by_run[r][col].argmax(1) == true for r in runs])
                          for task, col, true in (("cs", 0, cs_true), ("sg", 1, sg_true - 1))}
                   for name, runs in recipes.items()}
        first = next(iter(recipes))
        result["recipes"] = {}
        for name, runs in recipes.items():
            entry = {"runs": runs}
            for task, c in correct[name].items():
                per_seed = [round(100 * float(x), 1) for x in c.mean(1)]
                entry[task] = {"mean": round(100 * float(c.mean()), 1), "seeds": per_seed}
                if name != first:
                    entry[task]["minus_" + first] = recipe_difference(correct[first][task], c)
            result["recipes"][name] = entry
            print("recipe", name, json.dumps(entry))
    write_json(args.output, result, indent=1)


if __name__ == "__main__":
    main()
