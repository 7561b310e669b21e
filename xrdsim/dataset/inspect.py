"""Summaries and example plots of a dataset store (``xrdsim inspect``).

Counts come from the stored label arrays themselves (not from attributes), over
the rows of complete shards only, so they are what a reader of the store gets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.dataset.reading import complete_rows
from xrdsim.dataset.shards import complete_shards, layout_of, open_store
from xrdsim.errors import DatasetError
from xrdsim.grid import grid_centers
from xrdsim.plotting import pyplot, save_figure
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

#: Patterns drawn in the example plot (views of one structure per panel).
EXAMPLE_VIEWS = 4


def _counts(values: np.ndarray, names: list[str]) -> dict[str, int]:
    counts = np.bincount(values.astype(np.int64), minlength=len(names))
    return {names[i]: int(c) for i, c in enumerate(counts) if c}


def _store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def summarize_dataset(path: str | os.PathLike) -> dict[str, Any]:
    """Counts per split and class, configs and settings of a store (complete or not).

    Returns:
        A JSON-ready dict: ``status``, ``n_structures``, ``bytes_on_disk``, ``seed``,
        ``encoding``, ``configs`` (resolved dicts), ``splits`` with, per split,
        ``n_patterns``, ``complete_patterns``, ``n_shards``, ``complete_shards``,
        ``config``, ``views``, ``n_structures`` and per-class pattern counts
        (``crystal_system_counts``, ``extinction_group_counts``, complete rows only).
    """
    path = Path(path)
    root = open_store(path)
    attrs = dict(root.attrs)
    symbols = list(attrs.get("class_names", {}).get("extinction_group", []))
    splits = {}
    for name in attrs.get("splits", {}):
        group = root[name]
        mask = complete_rows(group)
        cs = group["crystal_system"][:][mask]
        eg = group["extinction_group"][:][mask]
        si = group["structure_index"][:][mask]
        splits[name] = {
            "config": group.attrs.get("config"), "views": group.attrs.get("views"),
            "n_patterns": int(layout_of(group).n_patterns), "complete_patterns": int(mask.sum()),
            "n_shards": layout_of(group).n_shards,
            "complete_shards": len(complete_shards(group)),
            "n_structures": int(np.unique(si).size),
            "crystal_system_counts": _counts(cs, list(CRYSTAL_SYSTEMS)),
            "extinction_group_counts": _counts(eg, symbols) if symbols else {},
            "params": sorted(group["params"].array_keys()),
        }
    return {
        "path": str(path), "format": attrs.get("format"), "status": attrs.get("status"),
        "n_structures": int(root["structures"]["structure_id"].shape[0]),
        "bytes_on_disk": _store_bytes(path), "seed": attrs.get("seed"),
        "wavelength": attrs.get("wavelength"), "encoding": attrs.get("encoding"),
        "split_assignment_sha256": attrs.get("split_assignment_sha256"),
        "configs": attrs.get("configs", {}), "splits": splits,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text of :func:`summarize_dataset`'s result."""
    lines = [f"{summary['path']}: {summary['format']}, status {summary['status']}, "
             f"{summary['n_structures']} structures, "
             f"{summary['bytes_on_disk'] / 1e6:.1f} MB on disk, seed {summary['seed']}, "
             f"patterns {summary['encoding']['dtype']}"]
    for name, s in summary["splits"].items():
        lines.append(f"  {name:<20} {s['complete_patterns']:>8}/{s['n_patterns']} patterns "
                     f"({s['complete_shards']}/{s['n_shards']} shards), {s['n_structures']} "
                     f"structures x {s['views']} views, config {s['config']!r}")
        cs = ", ".join(f"{k} {v}" for k, v in s["crystal_system_counts"].items())
        lines.append(f"  {'':<20} crystal systems: {cs or '-'}")
        lines.append(f"  {'':<20} extinction groups: {len(s['extinction_group_counts'])} "
                     f"present; {len(s['params'])} sampled parameters")
    for name, cfg in summary["configs"].items():
        lines.append(f"  config {name!r} ({cfg.get('name', '')}, {cfg.get('wavelength')} Å):")
        for op, params in cfg.get("ops", {}).items():
            text = ", ".join(f"{k}={_short(v)}" for k, v in params.items()) if isinstance(
                params, dict) else _short(params)
            lines.append(f"    {op}: {text}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    """``{"uniform": [0, 1]}`` -> ``uniform[0, 1]``; plain values unchanged."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, arg), = value.items()
        return f"{kind}{arg}"
    return str(value)


def plot_examples(path: str | os.PathLike, png: str | os.PathLike, *,
                  views: int = EXAMPLE_VIEWS) -> Path:
    """PNG of one train structure: its train views beside its invariance views; the
    title names the structure and its classes (crystal system, space group, extinction
    group symbol).

    Picks the first complete row of ``train``; draws up to ``views`` patterns of that
    structure from ``train`` and from ``invariance`` (offset vertically), so the
    effect of the two configs on the same peaks is visible.

    Raises:
        DatasetError: when the store has no complete train row.
    """
    root = open_store(path)
    train = root["train"]
    mask = complete_rows(train)
    if not mask.any():
        raise DatasetError(f"{path} has no complete train shard to plot yet")
    row = int(np.flatnonzero(mask)[0])
    s = int(train["structure_index"][row])
    table = root["structures"]
    sid, formula = str(table["structure_id"][s]), str(table["formula"][s])
    eg_names = root.attrs.get("class_names", {}).get("extinction_group", [])
    eg = int(table["extinction_group"][s])
    classes = (f"{CRYSTAL_SYSTEMS[int(table['crystal_system'][s])]}, space group "
               f"{int(table['space_group'][s])}, extinction group "
               f"{eg_names[eg] if eg < len(eg_names) else eg}")
    x = grid_centers()
    panels = [n for n in ("train", "invariance") if n in root]
    fig, axes = pyplot().subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        group = root[name]
        rows = np.flatnonzero((group["structure_index"][:] == s) & complete_rows(group))
        for k, r in enumerate(rows[:views]):
            y = np.asarray(group["patterns"][int(r)], dtype=np.float32)
            ax.plot(x, y + 1.1 * k, lw=0.6, label=f"view {int(group['view'][int(r)])}")
        ax.set_title(f"{name} ({group.attrs.get('config')} config)")
        ax.set_xlabel("2θ (degrees)")
        ax.set_yticks([])
        if len(rows):
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{sid} {formula} — {classes}")
    return save_figure(fig, png, dpi=110)
