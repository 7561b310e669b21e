"""A training set of mineral-shaped synthetic crystals, made in chunks that survive a stop.

Run from the repository root (niced on a shared machine):

    nice -n 15 .venv/bin/python benchmarks/experiments/synth_minerals_set.py \\
        --chunks out/synth_minerals_chunks --seeds 0-9 --groups-per-chunk 1 \\
        [--stop-after-cpu-s 2400] [--orbits 8-30 --max-atoms 200 --attempts 20]
        [--worker 0/2]
    .venv/bin/python benchmarks/experiments/synth_minerals_set.py \\
        --chunks out/synth_minerals_chunks --concat out/synth_minerals.csv.gz

The first form runs ``write_synthetic`` (what ``xrdsim synth -o CHUNK --profile minerals
--orbits 8-30 --max-atoms 200 --per-space-group 1 --seed SEED --space-groups LO-HI``
runs) for seed after seed, each seed over all 230 groups in chunks of
``--groups-per-chunk`` consecutive groups, one crystal (index 0) per group and seed, so
every pass covers all groups once and a stop loses one chunk at most. Chunks already
written are skipped, so the command resumes. Each chunk's CPU time
(``time.process_time``) is appended to ``CHUNKS/cpu.jsonl``. Crystal (seed, group, 0)
depends on nothing else, so the chunks are the crystals a single run would make.

``--orbits``, ``--max-atoms`` and ``--attempts`` change the settings of every chunk (the
defaults are those above). ``--worker i/n`` runs only the chunks whose position in the
generation order is i modulo n, so n processes share one folder without writing the same
chunk (their CPU times all go to ``cpu.jsonl``).

The second form joins the chunk tables in (seed, group) order into one CSV.gz (gzip
without timestamp), the input ``xrdsim peaks`` / ``xrdsim build`` / ``xrdsim mix --synthetic``
read, and prints the counts.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import time
from pathlib import Path

from xrdsim.structures.synth import DEFAULT_ATTEMPTS, SynthSettings, parse_orbits
from xrdsim.structures.synth_job import COLUMNS, write_synthetic

SETTINGS = {"max_atoms": 200, "orbits": (8, 30), "profile": "minerals"}


def _range(text: str) -> range:
    lo, _, hi = text.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def chunk_paths(folder: Path, seeds: range, per_chunk: int) -> list[tuple[int, int, int, Path]]:
    """(seed, first group, last group, path) of every chunk, in generation order."""
    return [(seed, lo, min(lo + per_chunk - 1, 230),
             folder / f"s{seed}_g{lo:03d}-{min(lo + per_chunk - 1, 230):03d}.csv.gz")
            for seed in seeds for lo in range(1, 231, per_chunk)]


def generate(chunks: list[tuple[int, int, int, Path]], settings: dict,
             stop_after: float | None, worker: tuple[int, int] = (0, 1)) -> None:
    if not chunks:
        return
    folder = chunks[0][3].parent
    folder.mkdir(parents=True, exist_ok=True)
    spent = 0.0
    for position, (seed, lo, hi, path) in enumerate(chunks):
        if position % worker[1] != worker[0] or path.exists():
            continue
        if stop_after is not None and spent >= stop_after:
            break
        t0 = time.process_time()
        summary = write_synthetic(path, space_groups=range(lo, hi + 1), per_space_group=1,
                                  settings=SynthSettings(seed=seed, **settings),
                                  progress=False)
        cpu = time.process_time() - t0
        spent += cpu
        with open(folder / "cpu.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"chunk": path.name, "cpu_s": round(cpu, 2),
                                     "made": summary.n_structures,
                                     "failed": summary.n_failed}) + "\n")


def concat(folder: Path, output: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    rows = chunks = 0
    for path in sorted(folder.glob("s*_g*.csv.gz"),
                       key=lambda p: (int(p.name[1:].split("_")[0]), p.name)):
        with gzip.open(path, "rt", newline="") as handle:
            for row in csv.DictReader(handle):
                writer.writerow([row[c] for c in COLUMNS])
                rows += 1
        chunks += 1
    with open(output, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                  filename="") as gz:
        gz.write(text.getvalue().encode("utf-8"))
    print(json.dumps({"output": str(output), "chunks": chunks, "crystals": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=Path, required=True)
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--groups-per-chunk", type=int, default=1)
    parser.add_argument("--stop-after-cpu-s", type=float, default=None)
    parser.add_argument("--orbits", default="8-30")
    parser.add_argument("--max-atoms", type=int, default=SETTINGS["max_atoms"])
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS)
    parser.add_argument("--worker", default="0/1")
    parser.add_argument("--concat", type=Path, default=None)
    args = parser.parse_args()
    if args.concat is not None:
        concat(args.chunks, args.concat)
        return
    settings = {**SETTINGS, "orbits": parse_orbits(args.orbits), "max_atoms": args.max_atoms,
                "attempts": args.attempts}
    chunks = chunk_paths(args.chunks, _range(args.seeds), args.groups_per_chunk)
    index, _, total = args.worker.partition("/")
    generate(chunks, settings, args.stop_after_cpu_s, (int(index), int(total or 1)))


if __name__ == "__main__":
    main()
