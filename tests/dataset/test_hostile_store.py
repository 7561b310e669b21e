"""Damaged, concurrent and interrupted stores (26–29, 31)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from test_dataset import SMALL, make_small_peak_db
from xrdsim_cli.main import cli

from xrdsim.dataset.build import build_dataset
from xrdsim.dataset.checksums import check_store_for_reading, verify_store_integrity
from xrdsim.errors import DatasetError, TrainingError


@pytest.fixture(scope="module")
def peak_db(tmp_path_factory):
    return make_small_peak_db(tmp_path_factory.mktemp("hostile_store"))


def _build(peak_db, out):
    build_dataset([str(peak_db)], out, **SMALL)
    return out


def test_verify_detects_overwritten_and_deleted_shards(peak_db, tmp_path):
    from xrdsim_training.data.store import open_split

    store = _build(peak_db, tmp_path / "d.zarr")
    assert verify_store_integrity(store)["ok"]
    assert CliRunner().invoke(cli, ["verify", str(store)]).exit_code == 0
    shard = store / "train" / "patterns" / "c" / "1" / "0"
    data = bytearray(shard.read_bytes())
    data[100:164] = bytes(64)  # 64 overwritten bytes
    shard.write_bytes(bytes(data))
    report = verify_store_integrity(store)
    assert report["mismatched"] == ["train/patterns"] and not report["ok"]
    result = CliRunner().invoke(cli, ["verify", str(store)])
    assert result.exit_code == 1 and "train/patterns" in result.output
    with pytest.raises(DatasetError, match="damaged"):
        check_store_for_reading(store, verify=True)
    (store / "invariance" / "space_group" / "c" / "0").unlink()  # one shard file deleted
    assert "invariance/space_group shard 0" in verify_store_integrity(store)["missing"]
    with pytest.raises(TrainingError, match="shard file\\(s\\) missing"):
        open_split(store, "invariance")


def test_verify_refuses_what_is_not_a_store(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "empty.zarr")])
    assert result.exit_code == 3 and "Traceback" not in result.output


def test_second_writer_is_refused_and_stale_lock_taken_over(peak_db, tmp_path):
    import json
    import os
    import socket
    import subprocess
    import sys

    from xrdsim.store_lock import lock_path, store_lock

    out = tmp_path / "d.zarr"
    with store_lock(out):
        for extra in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(DatasetError, match=f"being written by pid {os.getpid()}"):
                build_dataset([str(peak_db)], out, **{**SMALL, **extra})
    assert not lock_path(out).exists() and not out.exists()
    # a lock whose process is gone (a killed build) is stale and taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    lock_path(out).write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(),
                                          "started": 0}))
    _build(peak_db, out)
    assert verify_store_integrity(out)["ok"] and not lock_path(out).exists()


def test_killed_store_creation_leaves_nothing_unrecoverable(peak_db, tmp_path, monkeypatch):
    import zarr

    from xrdsim.dataset import shards

    out = tmp_path / "d.zarr"
    real = shards._create_split

    async def killed(root, name, *args, **kwargs):
        if name == "invariance":
            raise RuntimeError("killed")  # the kill arrives after "train" was created
        return await real(root, name, *args, **kwargs)

    monkeypatch.setattr(shards, "_create_split", killed)
    with pytest.raises(RuntimeError, match="killed"):
        _build(peak_db, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".d.zarr.creating-*"))
    monkeypatch.undo()
    # a creation folder left by a SIGKILL is removed by the next build
    (tmp_path / ".d.zarr.creating-999999").mkdir()
    build_dataset([str(peak_db)], out, **{**SMALL, "resume": True})
    assert zarr.open_group(str(out), mode="r").attrs["status"] == "complete"
    assert not list(tmp_path.glob(".d.zarr.creating-*"))


def test_disk_full_while_finishing_the_peak_database(tmp_path):
    """h5py raising while the file is finished: clean error, no .partial, no segfault."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import errno
        import numpy as np
        from xrdsim.errors import DatabaseError
        from xrdsim.peaks import writer as w
        def full(self):
            raise OSError(errno.ENOSPC, "No space left on device")
        w._Appender.flush = full
        try:
            with w.PeakDatabaseWriter({str(tmp_path / 'p.h5')!r}, wavelength=1.5418,
                                      two_theta_range=(0.0, 120.0), symprec=0.1) as out:
                out.add_error("a.cif", "bad")
        except DatabaseError as exc:
            print("refused:", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "is the disk full?" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_stale_partial_peak_files_are_removed(tmp_path):
    from xrdsim.peaks.writer import PeakDatabaseWriter

    stale = tmp_path / ".p.h5.partial-999999"
    live = tmp_path / f".p.h5.partial-{__import__('os').getppid()}"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    with PeakDatabaseWriter(tmp_path / "p.h5", wavelength=1.5418, two_theta_range=(0.0, 120.0),
                            symprec=0.1):
        pass
    assert not stale.exists() and live.exists()


def test_truncated_shard_is_a_clear_error_when_read(peak_db, tmp_path):
    from xrdsim_training.data.zarr_stream import ZarrStreamDataset

    store = _build(peak_db, tmp_path / "d.zarr")
    shard = store / "train" / "patterns" / "c" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:50])  # truncated shard
    data = ZarrStreamDataset(store, "train", batch_size=4, shuffle=False)
    with pytest.raises(TrainingError, match="store is damaged"):
        next(iter(data))


@pytest.fixture(scope="module")
def built_store(peak_db, tmp_path_factory):
    return _build(peak_db, tmp_path_factory.mktemp("built") / "d.zarr")


def _copy(store, tmp_path):
    import shutil

    return Path(shutil.copytree(store, tmp_path / "d.zarr"))


def test_checksums_cover_array_metadata_and_the_structure_table(built_store, tmp_path):
    """Issue 30: flipping the codec's byte order in a zarr.json left every chunk byte as it
    was (verify passed, every pattern garbage); deleting the structure table's chunk made
    every held-out structure read as train. Both are caught now, the second at every open."""
    import json

    store = _copy(built_store, tmp_path)
    meta = store / "train" / "patterns" / "zarr.json"
    text = meta.read_text()
    flipped = text.replace('"endian": "little"', '"endian": "big"')
    assert flipped != text
    meta.write_text(flipped)
    report = verify_store_integrity(store)
    assert report["mismatched"] == ["train/patterns/zarr.json"] and not report["ok"]
    with pytest.raises(DatasetError, match="damaged"):
        check_store_for_reading(store)  # without --verify too: metadata is cheap to hash
    meta.write_text(text)
    assert verify_store_integrity(store)["ok"]
    table = store / "structures"
    chunk = next(p for p in sorted(table.rglob("c/0")) if p.is_file())
    chunk.unlink()
    with pytest.raises(DatasetError, match="damaged"):
        check_store_for_reading(store)
    assert not verify_store_integrity(store)["ok"]
    assert json.loads((store / "zarr.json").read_text())["attributes"]["checksums"]


def test_verify_reports_stray_and_truncated_files_without_crashing(built_store, tmp_path):
    store = _copy(built_store, tmp_path)
    (store / "train" / "patterns" / "c" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (store / "train" / "space_group" / "c" / "0.bak").write_bytes(b"x")
    report = verify_store_integrity(store)
    assert report["ok"] and report["stray"] == [
        "train/patterns/c/.DS_Store", "train/space_group/c/0.bak"]
    result = CliRunner().invoke(cli, ["verify", str(store)])
    assert result.exit_code == 0 and "stray file" in result.output
    meta = store / "invariance" / "patterns" / "zarr.json"
    meta.write_text(meta.read_text()[:40])  # truncated
    result = CliRunner().invoke(cli, ["verify", str(store)])
    assert result.exit_code in (1, 3) and "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    root = store / "zarr.json"
    root.write_text(root.read_text()[:40])
    for command in (["verify", str(store)], ["inspect", str(store)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 3 and "damaged" in result.output, result.output


@pytest.mark.parametrize("content", ['{"format": "xrdsim-manifest/1", "store": {"checksums":'
                                     ' {"a": {"b": 1}}}}', "5", "[1, 2]",
                                     '{"format": "xrdsim-manifest/1", "store": 3}', "{"])
def test_verify_refuses_malformed_manifests(built_store, tmp_path, content):
    store = _copy(built_store, tmp_path)
    manifest = tmp_path / "m.json"
    manifest.write_text(content)
    result = CliRunner().invoke(cli, ["verify", str(store), "--manifest", str(manifest)])
    assert result.exit_code == 3 and "Traceback" not in result.output, result.output
    assert str(manifest) in result.output


def test_verify_does_not_wait_on_a_fifo_manifest(built_store, tmp_path):
    import os

    _copy(built_store, tmp_path)
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    from xrdsim.dataset.manifest import read_manifest

    with pytest.raises(DatasetError, match="not a regular file"):
        read_manifest(fifo)
