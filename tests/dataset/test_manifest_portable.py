"""Equal builds write equal manifests wherever the inputs live (issue 15, item 15)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import zarr

from xrdsim.dataset import build as build_module
from xrdsim.dataset.build import DEFAULT_SOURCE_NAME, build_dataset

SMALL = dict(views_train=1, views_test=1, test_fraction=0.0, shard_size=8, chunk_size=4,
             workers=1, progress=False)


def _tiny_csv(shared_data: Path, target: Path) -> Path:
    """The first 4 MP-20 rows of 4 atoms or fewer, gzipped like the bundled default."""
    with gzip.open(shared_data / "structures" / "mp20_test.csv.gz", "rt") as fh:
        header, *rows = fh.read().split("\n")[:400]
    import csv
    import io

    table = list(csv.reader(io.StringIO("\n".join([header, *rows]))))
    keep = [table[0]] + [r for r in table[1:] if len(r) > 3 and int(r[2]) <= 4][:4]
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wt", newline="") as fh:
        csv.writer(fh).writerows(keep)
    return target


def test_item15_manifest_does_not_depend_on_where_inputs_live(tmp_path, shared_data,
                                                              monkeypatch):
    source = _tiny_csv(shared_data, tmp_path / "src" / "default_structures.csv.gz")
    manifests = []
    for place in ("one", "two/deeper"):
        home = tmp_path / place
        bundled = home / "xrdsim" / "data" / source.name  # "the checkout" lives here
        bundled.parent.mkdir(parents=True)
        shutil.copy(source, bundled)
        monkeypatch.chdir(home)
        monkeypatch.setattr(build_module, "default_source", lambda b=bundled: b)
        build_dataset([], "out/default.zarr", manifest_dir="m", **SMALL)  # the make-demo job
        outside = tmp_path / "elsewhere" / place / "mine.csv.gz"  # a file outside cwd
        outside.parent.mkdir(parents=True)
        shutil.copy(source, outside)
        build_dataset([outside], "out/mine.zarr", manifest_dir="m", **SMALL)
        sources = zarr.open_group("out/default.zarr", mode="r")["structures"]["source"][:]
        assert all(str(s).startswith(DEFAULT_SOURCE_NAME + "#") for s in sources)
        manifests.append({n: (home / "m" / f"{n}.json").read_text()
                          for n in ("default", "mine")})
    assert manifests[0] == manifests[1]
    assert f'"path": "{DEFAULT_SOURCE_NAME}"' in manifests[0]["default"]
    assert '"path": "mine.csv.gz"' in manifests[0]["mine"]
    assert str(tmp_path) not in manifests[0]["default"] + manifests[0]["mine"]
