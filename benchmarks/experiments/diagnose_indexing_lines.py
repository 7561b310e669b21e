"""Why realistic simulated patterns fail to index: found lines against the true lines.

For MP-20 test structures simulated under a preset (as ``bench_indexing.py simulated``),
the lines :func:`xrdsim.indexing.lines.find_lines` returns are compared with the lines the
simulator drew: every reflection of the (strained) cell at Kα1, moved by the pattern's zero
shift and specimen displacement (Δ2θ = z − 2s·cos θ/R, as ``lines_kernel.make_lines``).
Per pattern and per crystal system:

- ``false``: of the search lines (the first 20 above 2 % of the strongest), those farther
  than 0.1° from every true Kα1 line, split into satellites (at the Kα2, Kβ1 or W Lα1
  position of a true line) and the rest (impurity lines, noise, background);
- ``error``: found − true position of the matched search lines, degrees: its median
  |·|, its 90th percentile, and the same after removing the best constant (a zero shift:
  what the search can absorb) and after removing z + D·cos θ + T·sin 2θ (what refinement
  with displacement and transparency absorbs);
- ``beyond_tol``: matched search lines whose error after the best constant exceeds the
  search tolerance of that line (:func:`xrdsim.indexing.search.tolerances`);
- ``missed``: true lines above 2 % of the strongest in the scan range that no found line
  matches (lost to blends, noise, or the intensity cut).

Run from the repository root::

    python benchmarks/experiments/diagnose_indexing_lines.py --per-system 4 --config train \\
        -o benchmarks/results/indexing_lines_diagnosis.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_indexing import SYSTEMS, _machine, _pick, _simulate, report  # noqa: E402

#: A found line within this many degrees of a true line is that line.
MATCH_DEG = 0.1
#: True lines above this fraction of the strongest should be found.
STRONG = 0.02


def _true_lines(structure_row: dict, cfg, labels, cell, params) -> tuple[np.ndarray, ...]:
    """(2θ observed at Kα1 with zero shift and displacement, intensity, 2θ unshifted)."""
    from pymatgen.core import Structure

    import xrdsim
    from xrdsim.indexing.cell import direct_metric

    structure = Structure.from_str(structure_row["cif"], fmt="cif")
    peaks = xrdsim.compute_peaks(structure, wavelength=cfg.wavelength, two_theta_range=(0, 120))
    hkl = labels.standard_miller(peaks.hkl).astype(np.float64)
    gstar = np.linalg.inv(direct_metric(cell))
    q = np.einsum("ni,ij,nj->n", hkl, gstar, hkl)
    lam1 = 1.5405929
    s = lam1 * np.sqrt(q) / 2.0
    ok = s < 1.0
    tt = 2.0 * np.degrees(np.arcsin(np.clip(s, 0, 1)))
    z = params.get("zero_shift.delta", 0.0)
    disp = params.get("displacement.shift", 0.0)
    radius = 240.0
    seen = tt + z - np.degrees(2.0 * disp * np.cos(np.radians(tt) / 2.0) / radius)
    return seen[ok], np.asarray(peaks.intensity)[ok], tt[ok]


def _satellite(t: float, true_tt: np.ndarray) -> str:
    """"Ka2", "Kb" or "W" when ``t`` lies at that satellite of a true line, else ""."""
    from xrdsim.indexing.lines import _moved
    from xrdsim.wavelengths import KALPHA_DOUBLETS, KBETA, TUNGSTEN_LALPHA1

    k1, k2 = KALPHA_DOUBLETS["Cu"]
    for name, lam in (("Ka2", k2), ("Kb", KBETA["Cu"]), ("W", TUNGSTEN_LALPHA1)):
        at = _moved(true_tt, lam / k1)
        if np.any(np.abs(at - t) <= MATCH_DEG):
            return name
    return ""


def _residual_spread(found: np.ndarray, true: np.ndarray, n_terms: int,
                     columns: list[int] | None = None) -> np.ndarray:
    """found − true after the least-squares shift on the first ``n_terms`` of 1, cos θ,
    sin 2θ (or on the ``columns`` of them)."""
    from xrdsim.indexing.refine import shift_basis

    r = found - true
    basis = shift_basis(found, 3)[:, columns if columns is not None else slice(0, n_terms)]
    if found.size <= basis.shape[1]:
        return r - np.median(r)
    coef, *_ = np.linalg.lstsq(basis, r, rcond=None)
    return r - basis @ coef


def diagnose(args: argparse.Namespace) -> dict:
    import xrdsim
    from xrdsim.indexing.lines import find_lines
    from xrdsim.indexing.search import search_lines, tolerances
    from xrdsim.indexing.settings import IndexingSettings
    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    cfg = xrdsim.load_config(args.config)
    settings = IndexingSettings()
    rows = _pick(args.per_system, args.seed, args.systems.split(","))
    records = []
    for row in rows:
        pattern, cell, _, labels, params = _simulate(row, cfg, args.seed, args.cache)
        start = time.process_time()
        lines = find_lines(pattern, min_intensity=settings.min_intensity,
                           noise_sigmas=settings.noise_sigmas)
        cpu = time.process_time() - start
        seen, inten, unshifted = _true_lines(row, cfg, labels, cell, params)
        covered = np.flatnonzero(pattern.intensity != 0)
        lo, hi = pattern.two_theta[covered[0]], pattern.two_theta[covered[-1]]
        use = search_lines(lines, settings)
        tt = lines.two_theta[use]
        eps = tolerances(lines, settings)[use]
        near = np.abs(tt[:, None] - seen[None, :])
        j = np.argmin(near, axis=1) if seen.size else np.zeros(tt.size, int)
        matched = near[np.arange(tt.size), j] <= MATCH_DEG if seen.size else np.zeros(0, bool)
        false_idx = np.flatnonzero(~matched)
        kinds = [_satellite(float(tt[i]), unshifted) for i in false_idx]
        satellites = sum(bool(k) for k in kinds)
        top = float(lines.intensity.max()) if len(lines) else 1.0
        err = tt[matched] - seen[j[matched]]
        # against the unshifted lines: the shift the search must absorb
        raw = tt[matched] - unshifted[j[matched]]
        raw_zero = _residual_spread(tt[matched], unshifted[j[matched]], 1)
        raw_three = _residual_spread(tt[matched], unshifted[j[matched]], 3)
        raw_cos = _residual_spread(tt[matched], unshifted[j[matched]], 2, [0, 1])
        raw_sin = _residual_spread(tt[matched], unshifted[j[matched]], 2, [0, 2])
        strong = (inten >= STRONG * inten.max()) & (seen >= lo) & (seen <= hi)
        found_any = np.abs(lines.two_theta[:, None] - seen[None, strong]).min(axis=0) \
            <= MATCH_DEG if len(lines) else np.zeros(int(strong.sum()), bool)
        rec = {
            "material_id": row["material_id"], "crystal_system": CRYSTAL_SYSTEMS[
                labels.crystal_system], "bravais": labels.bravais_lattice,
            "scan": [round(float(lo), 2), round(float(hi), 2)],
            "n_found": len(lines), "n_search": int(tt.size),
            "false": int(false_idx.size), "false_satellites": int(satellites),
            "false_other": int(false_idx.size - satellites),
            "false_lines": [{"two_theta": round(float(tt[i]), 3), "kind": k or "other",
                             "intensity_pct": round(100 * float(lines.intensity[use][i]) / top,
                                                    2)}
                            for i, k in zip(false_idx, kinds, strict=True)],
            "n_strong_true": int(strong.sum()), "missed": int((~found_any).sum()),
            "err_med": _q(np.abs(err), 50), "err_p90": _q(np.abs(err), 90),
            "raw_shift_range": [_q(raw, 0), _q(raw, 100)],
            "after_zero_p90": _q(np.abs(raw_zero), 90),
            "after_zero_max": _q(np.abs(raw_zero), 100),
            "after_three_p90": _q(np.abs(raw_three), 90),
            "after_zero_cos_p90": _q(np.abs(raw_cos), 90),
            "after_zero_cos_max": _q(np.abs(raw_cos), 100),
            "after_zero_sin2_p90": _q(np.abs(raw_sin), 90),
            "beyond_tol": int(np.count_nonzero(np.abs(raw_zero) > eps[matched])),
            "tol_median": _q(eps, 50), "fwhm_median": _q(lines.fwhm[use], 50),
            "find_lines_cpu": round(cpu, 3),
            "params": {k: round(v, 5) for k, v in params.items() if k.split(".")[0] in (
                "zero_shift", "displacement", "transparency", "doublet", "impurity",
                "tube_lines", "poisson_noise", "lattice_strain", "sample_broadening")}}
        records.append(rec)
        print(f"{rec['material_id']:<12} {rec['crystal_system']:<12} search {rec['n_search']:>2} "
              f"false {rec['false']} (sat {satellites}) missed {rec['missed']}/"
              f"{rec['n_strong_true']} err p90 {rec['err_p90']} shift {rec['raw_shift_range']} "
              f"after z p90 {rec['after_zero_p90']} max {rec['after_zero_max']} beyond tol "
              f"{rec['beyond_tol']} after 3 {rec['after_three_p90']} z+cos "
              f"{rec['after_zero_cos_p90']} z+sin2 {rec['after_zero_sin2_p90']} fwhm "
              f"{rec['fwhm_median']}", flush=True)
    return {"benchmark": "indexing_lines_diagnosis", "command": " ".join(sys.argv),
            "config": args.config, "seed": args.seed, "machine": _machine(),
            "records": records, "summary": summarise(records)}


def _q(x: np.ndarray, p: float) -> float | None:
    return None if x.size == 0 else round(float(np.percentile(x, p)), 4)


def summarise(records: list[dict]) -> dict:
    out = {}
    for name in SYSTEMS + ("all",):
        part = [r for r in records if name in ("all", r["crystal_system"])]
        if not part:
            continue

        def med(key: str, part: list[dict] = part) -> float:
            vals = [r[key] for r in part if r[key] is not None]
            return round(statistics.median(vals), 4) if vals else None

        out[name] = {
            "n": len(part), "false_median": med("false"),
            "patterns_more_false_than_2": sum(r["false"] > 2 for r in part),
            "false_satellites_total": sum(r["false_satellites"] for r in part),
            "false_other_total": sum(r["false_other"] for r in part),
            "after_zero_p90_median": med("after_zero_p90"),
            "after_three_p90_median": med("after_three_p90"),
            "after_zero_cos_p90_median": med("after_zero_cos_p90"),
            "after_zero_sin2_p90_median": med("after_zero_sin2_p90"),
            "patterns_beyond_tol_over_2": sum(r["beyond_tol"] > 2 for r in part),
            "missed_median": med("missed")}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-system", type=int, default=4)
    parser.add_argument("--systems", default=",".join(SYSTEMS[1:]))
    parser.add_argument("--config", default="train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder of simulated patterns (bench_indexing.py simulated --cache)")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args(argv)
    report(diagnose(args), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
