"""The overlapped shard writer: same bytes and checksums as sequential writes, failures."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import xrdsim.dataset.pipeline as pipeline
import xrdsim.dataset.shards as shards
from xrdsim.dataset.checksums import StoreDigests, array_checksums
from xrdsim.dataset.layout import ShardLayout, StoreEncoding
from xrdsim.dataset.shards import (
    LABEL_DTYPES,
    complete_shards,
    create_store,
    open_store,
    remove_partial_files,
    write_shard,
)
from xrdsim.errors import DatasetError

PARAMS = ("profile.U", "zero_shift.delta")
#: Two splits of three full shards and a short last one (written through zarr).
LAYOUTS = {"train": ShardLayout(60, 16, 8), "invariance": ShardLayout(40, 16, 8)}


def _arrays(split: str, i: int) -> dict:
    start, stop = LAYOUTS[split].rows(i)
    rng = np.random.default_rng([len(split), i])
    out = {"patterns": rng.random((stop - start, 12000), dtype=np.float32)}
    out.update({k: np.arange(start, stop) % 100 for k in LABEL_DTYPES})
    out.update({f"params/{p}": rng.random(stop - start).astype(np.float32) for p in PARAMS})
    return out


def _store(path, dtype: str = "float16"):
    create_store(path, attrs={"seed": 1},
                 structures={"structure_id": np.array(["a", "b"]),
                             "space_group": np.array([1, 225], dtype=np.int16)},
                 splits={s: (layout, {}) for s, layout in LAYOUTS.items()},
                 param_names=dict.fromkeys(LAYOUTS, PARAMS), encoding=StoreEncoding(dtype=dtype))
    return path


def _units():
    return [(s, i) for s, layout in LAYOUTS.items() for i in range(layout.n_shards)]


def _files(path):
    return {p.relative_to(path): p.read_bytes() for p in path.rglob("c/**/*") if p.is_file()}


def _no_done():
    return {s: set() for s in LAYOUTS}


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_overlapped_writer_equals_sequential_writes(tmp_path, dtype):
    seq, ovl = _store(tmp_path / "seq.zarr", dtype), _store(tmp_path / "ovl.zarr", dtype)
    for split, i in _units():
        write_shard(seq, split, i, _arrays(split, i))
    digests = StoreDigests(ovl, done=_no_done())
    with pipeline.ShardWriter(ovl, digests) as writer:
        for split, i in _units():
            writer.submit(split, i, _arrays(split, i))
    assert _files(ovl) == _files(seq)  # every shard file, byte for byte
    reference = array_checksums(seq)  # the files read back
    streamed = digests.hexdigests()
    assert streamed == reference and list(streamed) == list(reference)  # same attr bytes
    # every array (+ 2θ) twice: its chunks and its zarr.json metadata (issue 30)
    assert len(reference) == 2 * (2 + 2 * (1 + len(LABEL_DTYPES) + len(PARAMS) + 1))
    assert sum(k.endswith("/zarr.json") for k in reference) == len(reference) // 2
    for split, layout in LAYOUTS.items():
        assert complete_shards(open_store(ovl)[split]) == list(range(layout.n_shards))


def test_digests_of_shards_written_elsewhere_out_of_order_and_resumed(tmp_path):
    path = _store(tmp_path / "s.zarr")
    for split, i in _units():  # as worker processes or an earlier (resumed) run do
        write_shard(path, split, i, _arrays(split, i))
    digests = StoreDigests(path, done={"train": {0, 2}, "invariance": set()})
    with pipeline.ShardWriter(path, digests) as writer:
        for split, i in reversed(_units()):
            if not (split == "train" and i in (0, 2)):
                writer.submit(split, i, None)  # hashed from the files
    assert digests.hexdigests() == array_checksums(path)


def test_digests_refuse_a_missing_shard(tmp_path):
    path = _store(tmp_path / "s.zarr")
    digests = StoreDigests(path, done=_no_done())
    for split, i in _units()[1:]:
        digests.add(split, i, write_shard(path, split, i, _arrays(split, i)))
    with pytest.raises(DatasetError, match=r"split 'train' has 4 shards, only the first 0"):
        digests.hexdigests()


def test_writer_failure_propagates_and_leaves_the_shard_unrecorded(tmp_path, monkeypatch):
    path = _store(tmp_path / "s.zarr")
    real, calls = shards._put_atomic, {"n": 0}

    def fail_mid_shard(target, data):  # shard 1 dies after some of its files landed
        calls["n"] += 1
        if calls["n"] == len(LABEL_DTYPES) + len(PARAMS) + 1 + 3:
            raise RuntimeError("boom")
        return real(target, data)

    monkeypatch.setattr(shards, "_put_atomic", fail_mid_shard)
    with pytest.raises(RuntimeError, match="boom") as err:
        with pipeline.ShardWriter(path, StoreDigests(path, done=_no_done())) as writer:
            for split, i in _units():
                writer.submit(split, i, _arrays(split, i))
    assert any("shard writer thread on shard 1 of split 'train'" in n and "--resume" in n
               for n in err.value.__notes__)
    assert complete_shards(open_store(path)["train"]) == [0]
    assert not any(t.name == "xrdsim-shard-writer" for t in threading.enumerate())


def test_builder_interrupt_stops_the_writer_with_whole_recorded_shards(tmp_path):
    path, seq = _store(tmp_path / "s.zarr"), _store(tmp_path / "seq.zarr")
    with pytest.raises(KeyboardInterrupt):
        with pipeline.ShardWriter(path, StoreDigests(path, done=_no_done())) as writer:
            for i in range(3):
                writer.submit("train", i, _arrays("train", i))
            raise KeyboardInterrupt  # Ctrl-C while the next shard is simulated
    assert not any(t.name == "xrdsim-shard-writer" for t in threading.enumerate())
    assert remove_partial_files(path) == 0
    recorded = complete_shards(open_store(path)["train"])
    assert recorded == list(range(len(recorded)))  # a prefix: queued shards were dropped
    for i in recorded:  # each recorded shard is whole: the bytes of a sequential write
        write_shard(seq, "train", i, _arrays("train", i))
    ours, ref = _files(path), _files(seq)
    assert {f: ours[f] for f in ref} == ref
