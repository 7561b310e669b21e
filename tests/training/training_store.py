"""A small real dataset for the training tests, built once per session.

Four MP-20 structures of every crystal system (≤ 8 atoms, first in file order)
go through the real pipeline: :func:`xrdsim.dataset.build.build_dataset` (peaks,
labels, profile simulation, sharded store). 21 train structures × 8 views, and
7 held-out structures, in shards of 32 patterns.

Import the fixture into a test module with ``from training_store import built_store``.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from xrdsim.structures.crystal_systems import crystal_system_index

PER_SYSTEM = 4
VIEWS_TRAIN = 8
SHARD_SIZE = 32
CHUNK_SIZE = 16
_BUILT: dict[str, Path] = {}


def pick_structures(csv_path: Path, per_system: int = PER_SYSTEM) -> pd.DataFrame:
    """The first ``per_system`` rows of each crystal system with ≤ 8 atoms (small, fast)."""
    with gzip.open(csv_path, "rt") as fh:
        frame = pd.read_csv(fh)
    frame = frame[frame["num_atoms"] <= 8]
    cs = crystal_system_index(frame["spacegroup_number_symprec0.1"].to_numpy())
    return frame.assign(_cs=cs).groupby("_cs", sort=True).head(per_system).drop(columns="_cs")


def build_small_store(folder: Path, structures_csv: Path) -> Path:
    """Build ``folder/small.zarr`` (and ``small.zarr.peaks.h5`` beside it)."""
    from xrdsim.dataset.build import build_dataset

    folder.mkdir(parents=True, exist_ok=True)
    picked = folder / "picked.csv"
    pick_structures(structures_csv).to_csv(picked, index=False)
    store = folder / "small.zarr"
    build_dataset([picked], store, views_train=VIEWS_TRAIN, views_test=2, test_fraction=0.25,
                  shard_size=SHARD_SIZE, chunk_size=CHUNK_SIZE, workers=1, manifest_dir=None,
                  progress=False)
    return store


@pytest.fixture(scope="session")
def built_store(tmp_path_factory, shared_data) -> Path:
    """Path of the session's small store (read-only: copy it with :func:`copy_store`)."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp("training_store")
        _BUILT[key] = build_small_store(folder, shared_data / "structures" / "mp20_test.csv.gz")
    return _BUILT[key]


def copy_store(store: Path, destination: Path) -> Path:
    """A private copy of a store (for tests that damage it)."""
    target = destination / store.name
    shutil.copytree(store, target)
    return target


@pytest.fixture(autouse=False)
def one_torch_thread():
    """Run torch single-threaded: on a shared, oversubscribed CI machine two intra-op
    threads spin against each other and a step costs ~10× the CPU time."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
