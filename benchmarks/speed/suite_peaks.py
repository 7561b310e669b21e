"""Peaks part of the suite: every peer on the same structures, checked, then timed.

Structures, sorted by atoms per cell: a deterministic MP-20 sample (``mp20_test.csv.gz``
rows sorted by ``material_id``, ``random.Random(seed).sample``), the symmetrized CIFs of
``../shared/data/cifs`` (large and disordered cells as people write them) and supercells
of the first MP-20 structures (2×1×1 … 3×3×3) to extend the range of atoms per cell.

For each structure, xrdsim's lines are the reference. Each peer is called once (the
check: its lines against ours, :func:`peers.same_lines_unmatched`), and only when they
match are :data:`REPEATS` more calls timed (least CPU time of the process and least wall
time, one core). A slow peer is paced: it takes the k-th of N structures (ascending size)
only while the CPU time of all its calls so far is within ``budget_s·k/N``, so its budget
spreads over the whole size range instead of running out on the small cells; the
structures it left out are counted.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import time
import warnings
from pathlib import Path

import numpy as np
from peers import Peer, same_lines_unmatched
from scaling import fit_power

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SUPERCELLS = ((2, 1, 1), (2, 2, 1), (2, 2, 2), (3, 2, 2), (3, 3, 2), (3, 3, 3))
#: Expected law: work ∝ atoms × reflections, and reflections ∝ cell volume ∝ atoms at a
#: fixed density and 2θ range, so t ∝ atoms² and t ∝ reflections²; per-call overhead makes
#: small cells flatter.
EXPECTED_EXPONENT = 2.0
#: Timed calls per code and structure after the check call; the least time is kept.
REPEATS = 3


def structures(*, mp20: int, seed: int, cifs: int | None, supercell_bases: int, max_factor: int):
    """``[(id, source, Structure)]`` sorted by atoms per cell, and a list of parse failures."""
    from pymatgen.core import Structure

    csv.field_size_limit(2**31 - 1)
    with gzip.open(SHARED / "structures" / "mp20_test.csv.gz", "rt", newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["material_id"])
    out, failed = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in random.Random(seed).sample(rows, mp20):
            out.append((r["material_id"], "mp20", Structure.from_str(r["cif"], fmt="cif")))
        files = sorted((SHARED / "cifs").rglob("*.cif"))
        if cifs is not None:
            files = files[:: max(1, math.ceil(len(files) / cifs))][:cifs]
        for path in files:
            try:
                out.append((f"{path.parent.name}/{path.stem}", "cifs", Structure.from_file(path)))
            except Exception as err:  # a peer benchmark records unreadable files, goes on
                failed.append({"file": str(path.relative_to(SHARED)), "error": str(err)[:120]})
    for sid, _, base in out[:supercell_bases]:
        for factor in SUPERCELLS:
            if max(factor) <= max_factor:
                tag = "x".join(map(str, factor))
                big = base.make_supercell(factor, in_place=False)
                out.append((f"{sid}*{tag}", "supercell", big))
    out.sort(key=lambda t: len(t[2]))
    return out, failed


def _reflections(structure, wavelength: float, two_theta_max: float) -> int:
    """Reciprocal-lattice points in the half sphere within 2θ_max (xrdsim's enumeration)."""
    from xrdsim.peaks.bragg_kernel import bragg_reflections
    from xrdsim.peaks.lines import structure_arrays

    a = structure_arrays(structure)
    g_max = 2.0 * math.sin(math.radians(two_theta_max / 2.0)) / wavelength
    _, tt, _ = bragg_reflections(
        a["lattice"], 0.0, g_max, wavelength, a["frac"], a["occupancy"], a["entry_group"],
        a["group_kind"], a["group_b"], a["kind_z"], a["kind_a"], a["kind_b"],
    )  # fmt: skip
    return len(tt)


def _timed(fn, structure) -> tuple[float, float]:
    """Least CPU and least wall time of :data:`REPEATS` calls (robust to other jobs)."""
    cpu, wall = float("inf"), float("inf")
    for _ in range(REPEATS):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(structure)
        cpu, wall = min(cpu, time.process_time() - c0), min(wall, time.perf_counter() - t0)
    return cpu, wall


def run(peers: list[Peer], items, *, wavelength: float, two_theta_max: float,
        budget_s: float) -> dict:  # fmt: skip
    """Check and time every runnable peer on ``items``; records, fits and a summary."""
    ours, others = peers[0], [p for p in peers[1:] if p.lines is not None]
    spent = {p.name: 0.0 for p in others}
    paced = {p.name: 0 for p in others}
    records = []
    for k, (sid, source, s) in enumerate(items, start=1):
        ref = ours.lines(s)
        cpu, wall = _timed(ours.lines, s)
        rec = {"id": sid, "source": source, "atoms": len(s), "lines": int(len(ref[0])),
               "reflections": _reflections(s, wavelength, two_theta_max),
               "peers": {"xrdsim": {"cpu_s": cpu, "wall_s": wall}}}  # fmt: skip
        for p in others:
            if spent[p.name] > budget_s * k / len(items):
                paced[p.name] += 1
                rec["peers"][p.name] = {"skipped": "paced out by the time budget"}
                continue
            c0 = time.process_time()
            try:
                got = p.lines(s)
            except Exception as err:  # recorded per structure; the peer goes on with the next
                rec["peers"][p.name] = {"error": f"{type(err).__name__}: {str(err)[:100]}"}
                continue
            bad = same_lines_unmatched(ref, got, two_theta_tol=p.two_theta_tol,
                                       intensity_tol=p.intensity_tol)  # fmt: skip
            if bad:
                rec["peers"][p.name] = {"mismatched_lines": bad}
                continue
            cpu, wall = _timed(p.lines, s)
            spent[p.name] += time.process_time() - c0
            rec["peers"][p.name] = {"cpu_s": cpu, "wall_s": wall}
        records.append(rec)
    return {"records": records, "summary": summarise(peers, records, paced)}


def summarise(peers: list[Peer], records: list[dict], paced: dict) -> dict:
    """Per peer: counts, median CPU time on MP-20, ratios against xrdsim, scaling fits."""
    out = {}
    for p in peers:
        if p.lines is None:
            out[p.name] = {"skipped": p.skip_reason}
            continue
        timed = [r for r in records if "cpu_s" in r["peers"].get(p.name, {})]
        mp20 = [r for r in timed if r["source"] == "mp20"]
        cpu = np.array([r["peers"][p.name]["cpu_s"] for r in timed])
        ours = np.array([r["peers"]["xrdsim"]["cpu_s"] for r in timed])
        mp_cpu = np.array([r["peers"][p.name]["cpu_s"] for r in mp20])
        mp_ours = np.array([r["peers"]["xrdsim"]["cpu_s"] for r in mp20])
        states = [r["peers"].get(p.name, {}) for r in records]
        out[p.name] = {
            "version": p.version,
            "call": p.note,
            "tolerance": {"two_theta_deg": p.two_theta_tol, "intensity": p.intensity_tol},
            "structures_timed": len(timed),
            "structures_mismatched": sum("mismatched_lines" in s for s in states),
            "structures_errored": sum("error" in s for s in states),
            "structures_paced_out": paced.get(p.name, 0),
            "mp20_median_cpu_ms": float(np.median(mp_cpu) * 1e3) if len(mp20) else None,
            "mp20_ratio_of_totals_vs_xrdsim": float(mp_cpu.sum() / mp_ours.sum())
            if len(mp20) else None,
            "all_ratio_of_totals_vs_xrdsim": float(cpu.sum() / ours.sum()) if len(timed) else None,
            "max_atoms_timed": max((r["atoms"] for r in timed), default=None),
            "fit_vs_atoms": fit_power([r["atoms"] for r in timed], cpu,
                                      expected=EXPECTED_EXPONENT),
            "fit_vs_reflections": fit_power([r["reflections"] for r in timed], cpu,
                                            expected=EXPECTED_EXPONENT),
        }  # fmt: skip
    return out
