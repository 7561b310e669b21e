"""Fetching more real structures: dedupe by (reduced formula, space group), report."""

from __future__ import annotations

import json
import shutil

from xrdsim.structures import fetch


def _fake_fetch(names):
    def fetcher(folder, work):
        folder.mkdir(parents=True, exist_ok=True)
        for source, target in names:
            shutil.copyfile(source, folder / target)
        return len(names)
    return fetcher


def test_duplicates_of_inputs_and_of_earlier_collections_are_dropped(tmp_path, test_data,
                                                                      monkeypatch):
    cifs = test_data / "cifs"
    monkeypatch.setattr(fetch, "fetch_aflow", _fake_fetch(
        [(cifs / "NiO_225_sym.cif", "NiO.cif"), (cifs / "LiOH-H2O_12.cif", "LiOH.cif")]))
    monkeypatch.setattr(fetch, "fetch_avogadro", _fake_fetch(
        [(cifs / "NiO_225_sym.cif", "oxides__NiO.cif"),
         (cifs / "Li7La3Zr2O12_230.cif", "garnets__LLZO.cif"),
         (test_data / "bad" / "no_atoms.cif", "broken.cif")]))
    dedupe = tmp_path / "seen"
    dedupe.mkdir()
    shutil.copyfile(cifs / "LiOH-H2O_12.cif", dedupe / "known.cif")
    report = fetch.fetch_sources(tmp_path / "out", dedupe=[dedupe])
    aflow, avogadro = report["collections"]["aflow"], report["collections"]["avogadro"]
    assert aflow["duplicates"] == {"LiOH.cif": str(dedupe / "known.cif")}
    assert avogadro["duplicates"] == {"oxides__NiO.cif": "aflow/NiO.cif"}
    assert list(avogadro["unreadable"]) == ["broken.cif"]
    assert (aflow["kept"], avogadro["kept"]) == (1, 1)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.cif")) == [
        "NiO.cif", "garnets__LLZO.cif"]
    assert json.loads((tmp_path / "out" / "sources.json").read_text()) == report


def test_mp20_csv_columns_serve_as_keys(test_data):
    from xrdsim.dataset.build import default_source

    keys, failures = fetch.structure_keys([default_source()])
    assert not failures and len(keys) > 400
    assert all(isinstance(f, str) and 1 <= g <= 230 for f, g in keys)


def test_a_collection_that_cannot_be_fetched_is_reported(tmp_path, monkeypatch):
    def broken(folder, work):
        raise RuntimeError("`apt-get` not found")
    monkeypatch.setattr(fetch, "fetch_avogadro", broken)
    report = fetch.fetch_sources(tmp_path / "out", collections=["avogadro"])
    assert report["collections"]["avogadro"] == {"error": "RuntimeError: `apt-get` not found"}
