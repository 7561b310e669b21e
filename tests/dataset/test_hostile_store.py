"""Damaged, concurrent and interrupted stores (26–29, 31)."""

from __future__ import annotations

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
