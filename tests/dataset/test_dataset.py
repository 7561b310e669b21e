"""build_dataset end to end on a small peak database: layout, splits, bytes, refusals, resume."""

from __future__ import annotations

import csv
import errno
import gzip
import json

import numpy as np
import pytest
import xarray as xr
import zarr

from xrdsim.dataset.build import build_dataset, default_source
from xrdsim.dataset.checksums import array_checksums
from xrdsim.dataset.reading import open_split
from xrdsim.errors import ConfigError, ConfigOverlapError, DatasetError, ResumeMismatchError
from xrdsim.versions import RENDER_VERSION

#: Small but with several shards per split (shard 16 rows, chunk 8 rows).
SMALL = dict(views_train=2, views_test=1, test_fraction=0.2, seed=5, shard_size=16,
             chunk_size=8, progress=False, manifest_dir=None)
N_STRUCTURES = 36


def make_small_peak_db(folder):
    """Peak database of the first 36 bundled MP-20 structures (real CIFs) in ``folder``."""
    from xrdsim.peaks.job import write_peak_database

    with gzip.open(default_source(), "rt") as f:
        rows = list(csv.DictReader(f))[:N_STRUCTURES]
    small = folder / "small.csv"
    with small.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = folder / "small.h5"
    write_peak_database([str(small)], out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def peak_db(tmp_path_factory):
    return make_small_peak_db(tmp_path_factory.mktemp("peaks"))


def test_store_layout_splits_and_rows(peak_db, tmp_path):
    from xrdsim.simulation.config import SimulationConfig, load_config
    from xrdsim.simulation.phases import simulate_database
    from xrdsim.simulation.simulator import structure_key

    path = tmp_path / "d.zarr"
    summary = build_dataset([peak_db], path, **SMALL)
    root = zarr.open_group(str(path), mode="r")
    assert root.attrs["status"] == "complete" and root.attrs["format"] == "xrdsim-dataset/1"
    table = root["structures"]
    split = table["split"][:]
    formula, sg = table["formula"][:], table["space_group"][:]
    # no (formula, space group) group straddles train / held-out
    sides: dict = {}
    for f, s, c in zip(formula, sg, split, strict=True):
        sides.setdefault((str(f), int(s)), set()).add(int(c))
    assert all(len(v) == 1 for v in sides.values())
    train_s = set(np.flatnonzero(split == 0).tolist())
    held_s = set(np.flatnonzero(split == 1).tolist())
    assert held_s and train_s
    sets = {n: set(root[n]["structure_index"][:].tolist()) for n in summary.n_patterns}
    assert sets["train"] == sets["invariance"] == train_s  # exactly the train structures
    assert sets["equivariance"] == sets["held_out_invariance"] == held_s
    assert summary.n_patterns["train"] == 2 * len(train_s)
    assert summary.n_patterns["equivariance"] == len(held_s)
    assert root["train"]["patterns"].shards == (16, 12000)
    assert root["train"]["patterns"].chunks == (8, 12000)

    train = root["train"]
    s_index = train["structure_index"][:]
    np.testing.assert_array_equal(train["space_group"][:], sg[s_index])
    np.testing.assert_array_equal(train["crystal_system"][:], table["crystal_system"][:][s_index])
    # every views of a structure adjacent: view = row % views
    np.testing.assert_array_equal(train["view"][:], np.arange(len(s_index)) % 2)
    # a stored row equals the simulator's own output for that structure/view/seed
    from xrdsim.peaks.database import PeakDatabase

    db = PeakDatabase(peak_db)
    config = SimulationConfig.from_dict(root.attrs["configs"]["train"])
    assert config.to_dict() == load_config("train").to_dict()
    for r in (0, 5, len(s_index) - 1):
        i = int(s_index[r])
        ref = simulate_database(db, [i], config, seed=train.attrs["seed"],
                                structure_keys=np.array([structure_key(str(db.ids[i]))]),
                                views=np.array([int(train["view"][r])]))
        np.testing.assert_array_equal(train["patterns"][r],
                                      ref.patterns[0].astype(train["patterns"].dtype))
        for name, value in ref.params.items():
            np.testing.assert_array_equal(train["params"][name][r], np.float32(value[0]))
    # plain xarray reads every split
    ds = xr.open_zarr(str(path), group="equivariance", consolidated=False)
    assert ds["patterns"].shape == (summary.n_patterns["equivariance"], 12000)
    assert int(ds["space_group"].min()) >= 1


def test_workers_and_scheduler_never_change_bytes(peak_db, tmp_path):
    from distributed import LocalCluster

    one = build_dataset([peak_db], tmp_path / "w1.zarr", workers=1, **SMALL)
    two = build_dataset([peak_db], tmp_path / "w2.zarr", workers=2, **SMALL)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        sch = build_dataset([peak_db], tmp_path / "sch.zarr", scheduler=cluster.scheduler_address,
                            **SMALL)
    reference = array_checksums(one.path)
    assert array_checksums(two.path) == reference
    assert array_checksums(sch.path) == reference
    assert len(reference) > 30  # every label and parameter array is compared
    for built in (one, two, sch):  # hashed while written (in order / out of order) = read back
        assert zarr.open_group(str(built.path), mode="r").attrs["checksums"] == reference


def test_refusals(peak_db, tmp_path):
    from xrdsim.simulation.config import load_config

    path = tmp_path / "d.zarr"
    build_dataset([peak_db], path, **SMALL)
    with pytest.raises(DatasetError, match="already exists.*--resume.*--overwrite"):
        build_dataset([peak_db], path, **SMALL)
    with pytest.raises(ResumeMismatchError,
                       match=r"settings\.seed: store has 5, this build asks 6"):
        build_dataset([peak_db], path, resume=True, **(SMALL | {"seed": 6}))
    with pytest.raises(ResumeMismatchError, match=r"settings\.views_train"):
        build_dataset([peak_db], path, resume=True, **(SMALL | {"views_train": 3}))
    with pytest.raises(ConfigOverlapError) as err:
        build_dataset([peak_db], tmp_path / "o.zarr", invariance_config=load_config("train"),
                      **SMALL)
    assert err.value.overlaps and all(isinstance(n, str) for n, _ in err.value.overlaps)
    with pytest.raises(ConfigError, match="does not divide shard_size"):
        build_dataset([peak_db], tmp_path / "m.zarr", **(SMALL | {"chunk_size": 3}))
    with pytest.raises(ConfigError, match="exclude each other"):
        build_dataset([peak_db], path, resume=True, overwrite=True, **SMALL)
    with pytest.raises(ConfigError, match="only source"):
        build_dataset([peak_db, default_source()], tmp_path / "x.zarr", **SMALL)
    # overwrite replaces; resume of a complete store changes nothing
    again = build_dataset([peak_db], path, overwrite=True, **SMALL)
    same = build_dataset([peak_db], path, resume=True, **SMALL)
    assert same.shards_written == 0 and same.shards_reused == again.shards_written
    # a store rendered before RENDER_VERSION 2 records none: its patterns are not resumed
    group = zarr.open_group(str(path), mode="r+")
    build = dict(group.attrs["build"])
    assert build.pop("render_version") == RENDER_VERSION == 2
    group.attrs["build"] = build
    with pytest.raises(ResumeMismatchError,
                       match=r"render_version: store has '<absent>', this build asks 2"):
        build_dataset([peak_db], path, resume=True, **SMALL)


def test_disk_full_then_resume_is_byte_identical(peak_db, tmp_path, monkeypatch):
    import xrdsim.dataset.pipeline as pipeline
    import xrdsim.dataset.shards as shards

    ref = build_dataset([peak_db], tmp_path / "ref.zarr", **SMALL)
    path = tmp_path / "d.zarr"
    real = shards.write_shard
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise DatasetError(shards._os_message(
                OSError(errno.ENOSPC, "No space left on device"), path))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_shard", flaky)  # the in-process writer thread's
    with pytest.raises(DatasetError, match="No space left on device.*--resume") as err:
        build_dataset([peak_db], path, **SMALL)
    assert any("shard writer thread on shard" in note for note in err.value.__notes__)
    monkeypatch.setattr(pipeline, "write_shard", real)
    # a reader sees a clear incomplete state, and only complete rows when it asks for them
    with pytest.raises(DatasetError, match="incomplete"):
        open_split(path, "train")
    group, mask = open_split(path, "train", allow_incomplete=True)
    assert 0 < mask.sum() < len(mask)
    assert not np.isnan(group["patterns"][:][mask]).any()
    done = build_dataset([peak_db], path, resume=True, **SMALL)
    assert done.shards_reused == 3
    assert array_checksums(path) == array_checksums(ref.path)


def test_bad_cifs_are_recorded_and_skipped(shared_data, tmp_path):
    folder = tmp_path / "cifs"
    folder.mkdir()
    for name in ("LiF_225.cif", "Li2O_225.cif", "LiMn2O4_227.cif"):
        (folder / name).write_bytes((shared_data / "cifs" / "autoxrd_examples" / name)
                                    .read_bytes())
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 4.0\nthis is not a CIF\n")
    summary = build_dataset([folder], tmp_path / "d.zarr", name="bad",
                            **(SMALL | {"manifest_dir": tmp_path / "manifests",
                                        "test_fraction": 0.0}))
    assert summary.n_structures == 3 and summary.n_failed == 1
    manifest = json.loads((tmp_path / "manifests" / "bad.json").read_text())
    assert [f["source"].endswith("broken.cif") for f in manifest["structures"]["failures"]] == [
        True]
    ids = zarr.open_group(str(tmp_path / "d.zarr"), mode="r")["structures"]["structure_id"][:]
    assert sorted(map(str, ids)) == ["Li2O_225", "LiF_225", "LiMn2O4_227"]
    assert {i["path"].rsplit("/", 1)[-1] for i in manifest["inputs"]} == {
        "LiF_225.cif", "Li2O_225.cif", "LiMn2O4_227.cif", "broken.cif"}
    assert manifest["splits"]["train"]["n_patterns"] == 6
    assert manifest["store"]["checksums"] == array_checksums(tmp_path / "d.zarr")


def test_manifest_contents(peak_db, tmp_path):
    summary = build_dataset([peak_db], tmp_path / "d.zarr", name="small",
                            **(SMALL | {"manifest_dir": tmp_path}))
    manifest = json.loads(summary.manifest_path.read_text())
    assert manifest["inputs"][0]["sha256"] == __import__("hashlib").sha256(
        peak_db.read_bytes()).hexdigest()
    root = zarr.open_group(str(tmp_path / "d.zarr"), mode="r")
    for name, split in manifest["splits"].items():
        assert split["n_patterns"] == root[name]["patterns"].shape[0]
        s_index = np.unique(root[name]["structure_index"][:])
        counts = np.bincount(root["structures"]["crystal_system"][:][s_index], minlength=7)
        assert sum(split["crystal_system_counts"].values()) == len(s_index)
        assert sorted(split["crystal_system_counts"].values()) == sorted(
            int(c) for c in counts if c)
    assert manifest["split_assignment_sha256"] == root.attrs["split_assignment_sha256"]
    assert set(manifest["configs"]) == {"train", "invariance"}
    assert manifest["versions"]["zarr"] == zarr.__version__


def test_settings_round_trip_and_auto_workers():
    from xrdsim.dataset.build import AUTO_CLUSTER_MIN_PATTERNS, _auto_workers
    from xrdsim.dataset.layout import StoreEncoding
    from xrdsim.dataset.settings import BuildSettings
    from xrdsim.parallel import default_workers

    s = BuildSettings(views_train=3, seed=9, encoding=StoreEncoding(dtype="float32"))
    assert BuildSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match="seed"):
        BuildSettings(seed=-1)
    with pytest.raises(ConfigError, match="views"):
        BuildSettings(views_test=0)
    assert _auto_workers(None, AUTO_CLUSTER_MIN_PATTERNS - 1, AUTO_CLUSTER_MIN_PATTERNS) == 1
    assert _auto_workers(None, AUTO_CLUSTER_MIN_PATTERNS, AUTO_CLUSTER_MIN_PATTERNS) == (
        default_workers())
    assert _auto_workers(3, 0, AUTO_CLUSTER_MIN_PATTERNS) == 3


def test_overwrite_with_other_sources_never_reads_stale_peaks(shared_data, tmp_path):
    from xrdsim.peaks.database import PeakDatabase
    from xrdsim.simulation.config import load_config
    from xrdsim.simulation.phases import simulate_database
    from xrdsim.simulation.simulator import structure_key

    out = tmp_path / "d.zarr"
    stored = {}
    for name in ("LiF_225.cif", "Li2O_225.cif"):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_bytes((shared_data / "cifs" / "autoxrd_examples" / name)
                                    .read_bytes())
        build_dataset([folder], out, overwrite=True, workers=1,
                      **(SMALL | {"test_fraction": 0.0}))
        root = zarr.open_group(str(out), mode="r")
        stored[name] = root["train"]["patterns"][:]
        assert [str(s) for s in root["structures"]["structure_id"][:]] == [name[:-4]]
        db = PeakDatabase(out.with_name(out.name + ".peaks.h5"))
        assert [str(s) for s in db.ids] == [name[:-4]]
        # rows are the simulation of *this* build's peaks (not a cached older database)
        ref = simulate_database(db, [0, 0], load_config("train"),
                                seed=root["train"].attrs["seed"],
                                structure_keys=np.full(2, structure_key(name[:-4])),
                                views=np.arange(2))
        np.testing.assert_array_equal(stored[name], ref.patterns.astype(np.float16))
