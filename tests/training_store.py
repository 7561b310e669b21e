"""A tiny ``xrdsim-dataset/1`` store for the training tests, written with zarr directly.

Peaks come from pymatgen's ``XRDCalculator`` on real MP-20 structures (two per
crystal system); the profile is a plain NumPy Gaussian with a random zero shift,
width and noise per view — enough for a learning check, independent of the
package's own simulator. The layout follows helper_notes/STORE_SCHEMA.md.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Structure

from xrdsim.crystal import CRYSTAL_SYSTEMS, crystal_system_index
from xrdsim.grid import N_BINS, grid_centers

LABELS = ("crystal_system", "extinction_group", "space_group", "structure_index", "view")


def pick_structures(csv_path: Path, per_system: int = 2) -> pd.DataFrame:
    """The first ``per_system`` rows of each crystal system with ≤ 8 atoms (small, fast)."""
    with gzip.open(csv_path, "rt") as fh:
        frame = pd.read_csv(fh)
    frame = frame[frame["num_atoms"] <= 8].copy()
    frame["cs"] = crystal_system_index(frame["spacegroup_number_symprec0.1"].to_numpy())
    return frame.groupby("cs", sort=True).head(per_system).reset_index(drop=True)


def peak_lists(frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    calc = XRDCalculator(wavelength="CuKa")
    out = []
    for cif in frame["cif"]:
        pattern = calc.get_pattern(Structure.from_str(cif, fmt="cif"), two_theta_range=(5, 115))
        out.append((np.asarray(pattern.x), np.asarray(pattern.y)))
    return out


def profile(two_theta, intensity, rng: np.random.Generator, *, width: tuple[float, float]):
    """Gaussian peaks (FWHM drawn from ``width``) after a zero shift, plus noise; max 1."""
    x = grid_centers()
    shift = rng.uniform(-0.05, 0.05)
    fwhm = rng.uniform(*width)
    sigma = fwhm / 2.3548
    y = np.zeros(N_BINS)
    scaled = intensity * rng.uniform(0.9, 1.1, len(intensity))
    for t, i in zip(two_theta + shift, scaled, strict=True):
        lo, hi = np.searchsorted(x, [t - 5 * sigma, t + 5 * sigma])
        y[lo:hi] += i * np.exp(-0.5 * ((x[lo:hi] - t) / sigma) ** 2)
    y /= y.max()
    y += rng.uniform(0, 0.02) * rng.random(N_BINS)
    return (y / y.max()).astype(np.float32)


def write_tiny_store(path: Path, csv_path: Path, *, views: int = 6, seed: int = 0,
                     shard_size: int = 20, dtype: str = "float16") -> Path:
    """Write the store: every picked structure in ``train`` (``views`` views) and
    ``invariance`` (2 wider-profile views); the second structure of each crystal
    system also in ``equivariance`` (2 views) — the tests score training structures."""
    frame = pick_structures(csv_path)
    peaks = peak_lists(frame)
    sg = frame["spacegroup_number_symprec0.1"].to_numpy().astype(np.int16)
    cs = frame["cs"].to_numpy().astype(np.int8)
    eg_symbols = sorted(set(sg.tolist()))
    eg = np.array([eg_symbols.index(s) for s in sg], dtype=np.int16)
    held = (np.arange(len(frame)) % 2 == 1)
    rng = np.random.default_rng(seed)
    root = zarr.open_group(str(path), mode="w")
    root.attrs.update({
        "format": "xrdsim-dataset/1", "status": "complete", "seed": seed,
        "n_extinction_groups": len(eg_symbols),
        "class_names": {"crystal_system": list(CRYSTAL_SYSTEMS),
                        "extinction_group": [f"sg{s}" for s in eg_symbols]},
        "grid": {"n_bins": N_BINS, "bin_width": 0.01, "two_theta_min": 0.0},
    })
    st = root.create_group("structures")
    for name, values in (("structure_id", frame["material_id"].to_numpy().astype(str)),
                         ("formula", frame["formula"].to_numpy().astype(str)),
                         ("space_group", sg), ("crystal_system", cs), ("extinction_group", eg),
                         ("split", held.astype(np.int8))):
        st.create_array(name, data=values)
    splits = {"train": (np.arange(len(frame)), views, (0.08, 0.15)),
              "invariance": (np.arange(len(frame)), 2, (0.25, 0.35)),
              "equivariance": (np.flatnonzero(held), 2, (0.08, 0.15))}
    for name, (structures, n_views, width) in splits.items():
        s_idx = np.repeat(structures, n_views)
        v_idx = np.tile(np.arange(n_views), len(structures))
        order = rng.permutation(len(s_idx)) if name == "train" else np.arange(len(s_idx))
        s_idx, v_idx = s_idx[order], v_idx[order]
        patterns = np.stack([profile(*peaks[s], rng, width=width) for s in s_idx])
        g = root.create_group(name)
        g.attrs.update({"views": n_views, "n_patterns": len(s_idx), "shard_size": shard_size,
                        "config": "invariance" if name == "invariance" else "train"})
        g.create_array("patterns", data=patterns.astype(dtype), chunks=(shard_size // 2, N_BINS),
                       shards=(shard_size, N_BINS))
        cols = {"crystal_system": cs[s_idx], "extinction_group": eg[s_idx],
                "space_group": sg[s_idx], "structure_index": s_idx.astype(np.int32),
                "view": v_idx.astype(np.int16)}
        for label in LABELS:
            g.create_array(label, data=cols[label])
    return path
