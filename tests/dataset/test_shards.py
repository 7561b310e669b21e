"""The Zarr store layer on synthetic arrays: layout, round trips, completion, integrity."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import zarr

from xrdsim.dataset.checksums import array_checksums, verify_store
from xrdsim.dataset.layout import ShardLayout, StoreEncoding
from xrdsim.dataset.reading import open_split
from xrdsim.dataset.shards import (
    LABEL_DTYPES,
    complete_shards,
    create_store,
    discard_shard,
    finalize_store,
    record_complete,
    remove_partial_files,
    remove_store,
    write_shard,
)
from xrdsim.errors import ConfigError, DatasetError

PARAMS = ("profile.U", "zero_shift.delta")


def _shard_arrays(layout: ShardLayout, i: int, seed: int = 0) -> dict:
    start, stop = layout.rows(i)
    n = stop - start
    rng = np.random.default_rng([seed, i])
    out = {"patterns": rng.random((n, 12000), dtype=np.float32)}
    for k in LABEL_DTYPES:
        out[k] = np.arange(start, stop) % 100
    for p in PARAMS:
        out[f"params/{p}"] = rng.random(n).astype(np.float32)
    return out


def _new_store(path, layout, dtype="float32"):
    create_store(path, attrs={"seed": 1},
                 structures={"structure_id": np.array(["a", "b"]),
                             "space_group": np.array([1, 225], dtype=np.int16)},
                 splits={"train": (layout, {"config": "train"})}, param_names={"train": PARAMS},
                 encoding=StoreEncoding(dtype=dtype))


def test_layout_refuses_misaligned_chunks():
    assert ShardLayout(50, 16, 8).n_shards == 4
    assert ShardLayout(50, 16, 8).rows(3) == (48, 50)
    with pytest.raises(ConfigError, match="does not divide shard_size 100"):
        ShardLayout(1000, 100, 30)
    with pytest.raises(ConfigError):
        ShardLayout(10, 0, 1)


def test_round_trip_completion_and_fill(tmp_path):
    path = tmp_path / "s.zarr"
    layout = ShardLayout(50, 16, 8)
    _new_store(path, layout)
    written = {}
    for i in (0, 3):  # leave shards 1 and 2 unwritten
        written[i] = _shard_arrays(layout, i)
        write_shard(path, "train", i, written[i])
        record_complete(path, "train", [i])
    with pytest.raises(DatasetError, match="incomplete .* 2 of 4 shards"):
        open_split(path, "train")
    group, mask = open_split(path, "train", allow_incomplete=True)
    assert mask.sum() == 16 + 2 and mask[:16].all() and mask[48:].all()
    plain = zarr.open_group(str(path), mode="r")["train"]
    assert plain["patterns"].dtype == np.float32
    for i, arrays in written.items():
        a, b = layout.rows(i)
        for name, value in arrays.items():
            np.testing.assert_array_equal(plain[name][a:b], value.astype(plain[name].dtype))
    # unwritten rows read as fill values, never as plausible data
    assert np.isnan(plain["patterns"][16:48]).all()
    assert (plain["space_group"][16:48] == -1).all()
    with pytest.raises(DatasetError, match="lacks 2 shard"):
        finalize_store(path, {})
    for i in (1, 2):
        write_shard(path, "train", i, _shard_arrays(layout, i))
        record_complete(path, "train", [i])
    finalize_store(path, {"extra": 1})
    group, mask = open_split(path, "train")
    assert mask.all() and complete_shards(group) == [0, 1, 2, 3]


def test_float16_round_trip_error_is_half_precision(tmp_path):
    path = tmp_path / "h.zarr"
    layout = ShardLayout(16, 16, 8)
    _new_store(path, layout, dtype="float16")
    arrays = _shard_arrays(layout, 0)
    write_shard(path, "train", 0, arrays)
    back = zarr.open_array(str(path), path="train/patterns")[:]
    assert back.dtype == np.float16
    # values in [0, 1): float16 spacing is <= 2**-11, so rounding error <= 2**-12
    assert np.max(np.abs(back.astype(np.float32) - arrays["patterns"])) <= 2.0**-12


def test_write_shard_refuses_wrong_arrays(tmp_path):
    path = tmp_path / "s.zarr"
    layout = ShardLayout(20, 8, 4)
    _new_store(path, layout)
    arrays = _shard_arrays(layout, 0)
    with pytest.raises(DatasetError, match="do not match"):
        write_shard(path, "train", 0, {k: v for k, v in arrays.items() if k != "view"})
    with pytest.raises(DatasetError, match="rows"):
        write_shard(path, "train", 1, arrays | {"view": np.zeros(3)})
    with pytest.raises(DatasetError, match="already exists"):
        _new_store(path, layout)


def test_disk_full_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    layout = ShardLayout(20, 8, 4)
    _new_store(path, layout)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("zarr.storage._local._put", full)  # zarr's writes (short shards)
    monkeypatch.setattr("xrdsim.dataset.shards._put_atomic", full)  # xrdsim's own (full shards)
    for i in (0, 2):  # a full shard and the short last one
        with pytest.raises(DatasetError, match="No space left on device.*--resume"):
            write_shard(path, "train", i, _shard_arrays(layout, i))


def test_checksums_discard_and_partials(tmp_path):
    path = tmp_path / "s.zarr"
    layout = ShardLayout(20, 8, 4)
    _new_store(path, layout)
    for i in range(layout.n_shards):
        write_shard(path, "train", i, _shard_arrays(layout, i))
    sums = array_checksums(path)
    assert set(sums) >= {"train/patterns", "train/view", "train/params/profile.U",
                         "structures/structure_id"}
    assert verify_store(path, sums) == []
    # a stray temporary file of a killed writer is not data and is cleaned up
    (path / "train" / "patterns" / "c" / "1" / "0.deadbeef.partial").write_bytes(b"junk")
    assert verify_store(path, sums) == []
    assert remove_partial_files(path) == 1
    discard_shard(path, "train", 1)
    assert not (path / "train" / "patterns" / "c" / "1" / "0").exists()
    assert not (path / "train" / "params" / "profile.U" / "c" / "1").exists()
    assert "train/patterns" in verify_store(path, sums)
    write_shard(path, "train", 1, _shard_arrays(layout, 1))
    assert verify_store(path, sums) == []  # rewriting gives the same bytes
    remove_store(path)
    assert not path.exists()
    other = tmp_path / "not_a_store"
    other.mkdir()
    with pytest.raises(DatasetError, match="not an xrdsim dataset"):
        remove_store(other)


@pytest.mark.parametrize("encoding", [StoreEncoding(), StoreEncoding(dtype="float32"),
                                      StoreEncoding(cname="zstd", shuffle="shuffle")])
def test_fast_shard_encoder_matches_zarr_byte_for_byte(tmp_path, encoding):
    layout = ShardLayout(40, 16, 4)  # two full shards and a short last one
    ours, ref = tmp_path / "ours.zarr", tmp_path / "ref.zarr"
    for path in (ours, ref):
        create_store(path, attrs={}, structures={"structure_id": np.array(["a"])},
                     splits={"train": (layout, {})}, param_names={"train": PARAMS},
                     encoding=encoding)
    plain = zarr.open_group(str(ref), path="train", mode="r+")
    for i in range(layout.n_shards):
        arrays = _shard_arrays(layout, i, seed=3)
        write_shard(ours, "train", i, arrays)  # full shards: xrdsim's own encoder
        a, b = layout.rows(i)
        for name, value in arrays.items():  # reference: zarr's own pipeline
            plain[name][a:b] = value.astype(plain[name].dtype)
    files = sorted(p.relative_to(ref) for p in (ref / "train").rglob("c/**/*") if p.is_file())
    # + one chunk of the two_theta coordinate, written at creation
    assert len(files) == layout.n_shards * (1 + len(LABEL_DTYPES) + len(PARAMS)) + 1
    for f in files:
        assert (ours / f).read_bytes() == (ref / f).read_bytes(), f
    mine = zarr.open_group(str(ours), path="train", mode="r")
    for name in ("patterns", "view", "params/profile.U"):
        np.testing.assert_array_equal(mine[name][:], plain[name][:])
