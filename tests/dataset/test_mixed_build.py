"""A build from a real + synthetic mixed table records the mixing recipe in its manifest."""

from __future__ import annotations

import json

import zarr

from xrdsim.dataset.build import build_dataset
from xrdsim.structures.mix import mix_sources
from xrdsim.structures.synth import SynthSettings
from xrdsim.structures.synth_job import write_synthetic


def test_mixed_build_keeps_synthetic_crystals_and_records_the_recipe(tmp_path, shared_data):
    real = tmp_path / "real"
    real.mkdir()
    for name in ("LiF_225.cif", "Li2O_225.cif", "LiMn2O4_227.cif"):
        (real / name).write_bytes((shared_data / "cifs" / "autoxrd_examples" / name)
                                  .read_bytes())
    synth = tmp_path / "synth.csv.gz"
    write_synthetic(synth, space_groups=(2, 221), per_space_group=1,
                    settings=SynthSettings(seed=1, max_atoms=12), progress=False)
    mixed = tmp_path / "mixed.csv.gz"
    recipe = mix_sources(mixed, real=[real], synthetic=[synth], ratio=2 / 3)
    summary = build_dataset([mixed], tmp_path / "m.zarr", name="mixed", views_train=1,
                            views_test=1, test_fraction=0.0, seed=0, shard_size=8,
                            chunk_size=8, progress=False, manifest_dir=tmp_path / "manifests")
    assert summary.n_structures == 5 and summary.n_failed == 0
    manifest = json.loads((tmp_path / "manifests" / "mixed.json").read_text())
    assert manifest["inputs"][0]["mix"] == recipe
    assert recipe["n_synthetic"] == 2 and recipe["ratio"] == 2 / 3
    groups = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")["structures"]["space_group"][:]
    assert sorted(int(g) for g in groups) == [2, 221, 225, 225, 227]


def test_synthetic_crystals_never_enter_the_held_out_splits(tmp_path, shared_data):
    real = tmp_path / "real"
    real.mkdir()
    names = ("LiF_225.cif", "Li2O_225.cif", "LiMn2O4_227.cif", "MnO_225.cif",
             "TiO2_141.cif", "MnO2_136.cif")
    for name in names:
        (real / name).write_bytes((shared_data / "cifs" / "autoxrd_examples" / name)
                                  .read_bytes())
    synth = tmp_path / "synth.csv.gz"
    write_synthetic(synth, space_groups=(221, 225, 136), per_space_group=2,
                    settings=SynthSettings(seed=2, max_atoms=12), progress=False)
    summary = build_dataset([real, synth], tmp_path / "s.zarr", views_train=1, views_test=1,
                            test_fraction=0.5, seed=0, shard_size=8, chunk_size=8,
                            progress=False, manifest_dir=tmp_path / "manifests")
    assert summary.n_failed == 0
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    table = root["structures"]
    ids = [str(i) for i in table["structure_id"][:]]
    split = table["split"][:]
    synthetic = [i.startswith("synth-") for i in ids]
    assert sum(synthetic) == 6 and root.attrs["n_synthetic_train_only"] == 6
    assert all(code == 0 for code, s in zip(split, synthetic, strict=True) if s)
    assert any(code == 1 for code, s in zip(split, synthetic, strict=True) if not s)
    held = {int(i) for i in root["equivariance"]["structure_index"][:]}
    assert held and not any(synthetic[i] for i in held)
