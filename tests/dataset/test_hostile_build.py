"""Build settings and workers refused before anything is allocated or started (25, 31)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.dataset.settings import MAX_VIEWS, BuildSettings
from xrdsim.errors import ConfigError
from xrdsim.parallel import check_workers, max_local_workers


def test_views_and_shard_caps():
    with pytest.raises(ConfigError, match="views_train must be an integer ≤ 10000"):
        BuildSettings(views_train=10**9)
    with pytest.raises(ConfigError, match="shard_size"):
        BuildSettings(shard_size=2**30, chunk_size=256)
    assert BuildSettings(views_train=MAX_VIEWS).views_train == MAX_VIEWS


def test_cli_build_refuses_a_billion_views_and_a_thousand_workers(tmp_path):
    out = tmp_path / "d.zarr"
    result = CliRunner().invoke(cli, ["build", "-o", str(out), "--views-train", "1000000000",
                                      "--manifest-dir", str(tmp_path)])
    assert result.exit_code == 3 and "views_train" in result.output
    result = CliRunner().invoke(cli, ["build", "-o", str(out), "--workers",
                                      str(max_local_workers() + 1),
                                      "--manifest-dir", str(tmp_path)])
    assert result.exit_code == 3 and "local processes" in result.output
    assert not out.exists()
    check_workers(max_local_workers())
    check_workers(10**6, scheduler="tcp://elsewhere:8786")  # a cluster sizes itself
