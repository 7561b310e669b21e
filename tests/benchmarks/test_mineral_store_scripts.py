"""benchmarks/experiments/{synth_minerals_set,cell_sizes}.py: worker slices and cell sizes."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
from conftest import benchmark_script
from pymatgen.core import Lattice

minerals_set = benchmark_script("experiments/synth_minerals_set.py")
cell_sizes = benchmark_script("experiments/cell_sizes.py")


def test_workers_split_the_chunks_without_overlap(tmp_path):
    # two processes' slices of the same order: disjoint, together every chunk once,
    # alternating along the seed-major order
    chunks = minerals_set.chunk_paths(tmp_path, range(0, 2), 1)
    assert len(chunks) == 460
    made = {}
    for worker in (0, 1):
        mine = [c for position, c in enumerate(chunks) if position % 2 == worker]
        made[worker] = {c[3].name for c in mine}
    assert not made[0] & made[1]
    assert made[0] | made[1] == {c[3].name for c in chunks}
    assert "s0_g001-001.csv.gz" in made[0] and "s0_g002-002.csv.gz" in made[1]


def test_a_worker_writes_only_its_chunks_with_the_given_settings(tmp_path):
    # groups 1 and 2 under seed 0: worker 1/2 makes group 2 only, with orbits 2-3
    chunks = minerals_set.chunk_paths(tmp_path / "c", range(0, 1), 1)[:2]
    settings = {**minerals_set.SETTINGS, "orbits": (2, 3), "max_atoms": 20}
    minerals_set.generate(chunks, settings, None, (1, 2))
    written = sorted(p.name for p in (tmp_path / "c").glob("s*_g*.csv.gz"))
    assert written == ["s0_g002-002.csv.gz"]
    with gzip.open(tmp_path / "c" / written[0], "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["material_id"] for r in rows] == ["synth-0-2-0"]
    orbits = rows[0]["wyckoff"].count(":")
    assert 2 <= orbits <= 3


def test_cell_volume_matches_the_lattice_determinant():
    params = (5.1, 6.3, 7.9, 81.0, 97.5, 103.0)
    expected = Lattice.from_parameters(*params).volume
    assert cell_sizes.cell_volumes(*params) == pytest.approx(expected, rel=1e-12)
    assert cell_sizes.cell_volumes(4.0, 4.0, 4.0, 90.0, 90.0, 90.0) == pytest.approx(64.0)


def test_strongest_line_is_taken_inside_the_window():
    # structure 0: its strongest line (100) at 3° lies outside 5-90°, so 30° (50) wins;
    # structure 1: no line inside; structure 2: the single line at 89°
    two_theta = np.array([3.0, 30.0, 60.0, 95.0, 89.0])
    intensity = np.array([100.0, 50.0, 20.0, 10.0, 1.0])
    offsets = np.array([0, 3, 4, 5])
    lines = cell_sizes.strongest_lines(two_theta, intensity, offsets)
    assert lines[0] == 30.0 and np.isnan(lines[1]) and lines[2] == 89.0


def test_sources_are_told_apart_by_id_and_extra_folder(tmp_path):
    (tmp_path / "aflow").mkdir()
    (tmp_path / "aflow" / "A_cF4_225_a.cif").write_text("data_x\n")
    names = cell_sizes.source_names(["synth-0-14-3", "A_cF4_225_a", "mp-149"], tmp_path)
    assert names == ["synthetic", "aflow", "mp20"]
