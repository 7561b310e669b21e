"""Instrument-level statistics of measured minerals against simulated training views.

Run from the repository root:

    .venv/bin/python benchmarks/experiments/rruff_diagnosis.py --peaks out/mp20.zarr.peaks.h5 \\
        -o benchmarks/results/rruff_diagnosis.json

Each pattern — the 456 rruff_dev files (Cu Kα, read and put on the model grid like
``xrdsim predict`` does) and one ``train``-preset view of as many structures drawn at
random from ``--peaks`` — is cut to the network's 5–90° window, background-subtracted
with the same SNIP as the input view (:func:`xrdsim_training.models.view.snip_batch`) and
scaled to a maximum of 1. Statistics per pattern (labels are never read; the files'
instrument properties only):

- ``n_peaks``: maxima with a prominence of at least 2 % of the maximum, after a 3-bin
  median filter (single-bin counting spikes are not peaks) and at least 0.05° apart;
- ``fwhm_deg_lo/mid/hi``: median full width at half prominence of the clear peaks
  (prominence ≥ 10 % of the maximum) in 5–35°, 35–60° and 60–90°
  (``scipy.signal.peak_widths``, rel. height 0.5);
- ``background``: the subtracted SNIP background's median over the window, and its
  ratio of the 5–15° mean to the 60–90° mean (``background_low_high``);
- ``noise``: 1.4826·median |y − running median (0.31°)| of the subtracted pattern, over the
  bins below 5 % of the maximum (peak-free);
- ``low_angle_share``: share of the integrated subtracted intensity below 20°;
- ``strongest_deg``: 2θ of the maximum;
- ``top_peak_share``: the strongest peak's height over the sum of all found peak heights
  (texture or a dominant reflection raise it).

The JSON gives the 10th / 50th / 90th percentiles of each statistic for both sets, and
the share of measured patterns outside the simulated 5–95 % range.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import median_filter
from scipy.signal import find_peaks, peak_widths
from xrdsim_training.models.view import snip_batch

from xrdsim.files import write_json
from xrdsim.grid import BIN_WIDTH, grid_centers
from xrdsim.versions import machine_description, package_versions

RRUFF = Path(__file__).resolve().parents[3] / "shared" / "data" / "patterns" / "rruff_dev"
WINDOW = (5.0, 90.0)
BANDS = {"fwhm_deg_lo": (5.0, 35.0), "fwhm_deg_mid": (35.0, 60.0), "fwhm_deg_hi": (60.0, 90.0)}


def _window() -> np.ndarray:
    x = grid_centers()
    return (x >= WINDOW[0]) & (x < WINDOW[1])


def subtracted(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patterns, backgrounds) in the 5–90° window, SNIP-subtracted, max = 1."""
    inside = _window()
    y = torch.from_numpy(np.ascontiguousarray(grids[:, inside], dtype=np.float32))
    bg = snip_batch(y)
    top = y.amax(dim=1, keepdim=True).clamp_min(1e-30)
    z = torch.clamp(y - bg, min=0.0)
    scale = z.amax(dim=1, keepdim=True).clamp_min(1e-30)
    return (z / scale).numpy(), (bg / top).numpy()


def statistics(y: np.ndarray, bg: np.ndarray) -> dict[str, float]:
    """The statistics of one windowed, subtracted pattern (module docstring)."""
    x = grid_centers()[_window()]
    smooth = median_filter(y, 3, mode="nearest")
    idx, props = find_peaks(smooth, prominence=0.02, distance=5)
    out: dict[str, float] = {"n_peaks": float(idx.size)}
    clear = idx[props["prominences"] >= 0.1]
    widths = (peak_widths(smooth, clear, rel_height=0.5)[0] * BIN_WIDTH if clear.size
              else np.zeros(0))
    for name, (lo, hi) in BANDS.items():
        sel = (x[clear] >= lo) & (x[clear] < hi)
        out[name] = float(np.median(widths[sel])) if np.any(sel) else float("nan")
    out["background"] = float(np.median(bg))
    low, high = bg[x < 15].mean(), bg[x >= 60].mean()
    out["background_low_high"] = float(low / high) if high > 0 else float("nan")
    quiet = y < 0.05
    residual = (y - median_filter(y, 31, mode="nearest"))[quiet]
    out["noise"] = float(1.4826 * np.median(np.abs(residual))) if residual.size else 0.0
    total = y.sum()
    out["low_angle_share"] = float(y[x < 20].sum() / total) if total > 0 else float("nan")
    out["strongest_deg"] = float(x[int(np.argmax(y))])
    heights = smooth[idx]
    out["top_peak_share"] = float(heights.max() / heights.sum()) if idx.size else float("nan")
    return out


def measured_grids(folder: Path) -> np.ndarray:
    from xrdsim.measured.prepare import prepare_pattern
    from xrdsim.measured.readers import read_pattern

    files = sorted(folder.glob("*.xy"))
    return np.stack([prepare_pattern(read_pattern(f, wavelength="CuKa"), background=None)
                     .pattern for f in files])


def simulated_grids(peaks: Path, n: int, *, config: str = "train", seed: int = 0) -> np.ndarray:
    import xrdsim
    from xrdsim.simulation.simulator import structure_key

    db = xrdsim.PeakDatabase(peaks)
    rows = np.sort(np.random.default_rng(seed).choice(len(db), size=n, replace=False))
    batch = db.ragged(rows)
    cfg = xrdsim.load_config(config)
    res = xrdsim.simulate_batch(batch.two_theta, batch.intensity, batch.offsets, cfg,
                                seed=seed, structure_keys=[structure_key(db.ids[i])
                                                           for i in rows],
                                views=[0] * len(rows))
    return np.asarray(res.patterns, dtype=np.float64)


def summarise(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = rows[0].keys()
    return {k: {f"p{q}": round(float(np.nanpercentile([r[k] for r in rows], q)), 5)
                for q in (10, 50, 90)} for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peaks", type=Path, required=True)
    parser.add_argument("--measured", type=Path, default=RRUFF)
    parser.add_argument("--config", default="train",
                        help="simulation preset or YAML of the simulated views [train]")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "results"
                        / "rruff_diagnosis.json")
    args = parser.parse_args()
    load0 = [round(x, 2) for x in os.getloadavg()]
    measured = measured_grids(args.measured)
    simulated = simulated_grids(args.peaks, len(measured), config=args.config)
    sets = {}
    for name, grids in (("measured", measured), ("simulated_train", simulated)):
        y, bg = subtracted(grids)
        sets[name] = [statistics(a, b) for a, b in zip(y, bg, strict=True)]
    outside = {}
    for k in sets["measured"][0]:
        sim = np.array([r[k] for r in sets["simulated_train"]])
        lo, hi = np.nanpercentile(sim, 5), np.nanpercentile(sim, 95)
        m = np.array([r[k] for r in sets["measured"]])
        m = m[np.isfinite(m)]
        outside[k] = {"below_sim_p5": round(float(np.mean(m < lo)), 3),
                      "above_sim_p95": round(float(np.mean(m > hi)), 3)}
    result = {"n": len(measured), "window_deg": WINDOW, "config": args.config,
              "measured": summarise(sets["measured"]),
              "simulated_train": summarise(sets["simulated_train"]),
              "measured_outside_simulated_5_95": outside,
              "machine": machine_description(), "versions": package_versions(),
              "load_average_start": load0,
              "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    write_json(args.output, result, indent=1)
    for k in result["measured"]:
        m, s = result["measured"][k], result["simulated_train"][k]
        print(f"{k:22s} measured {m['p10']:9.4f} {m['p50']:9.4f} {m['p90']:9.4f}   "
              f"simulated {s['p10']:9.4f} {s['p50']:9.4f} {s['p90']:9.4f}   "
              f"outside {outside[k]}")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
