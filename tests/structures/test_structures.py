"""Reading structures: real CIFs and CSVs parse, every malformed file gives one error record."""

from __future__ import annotations

import itertools
import math
import os
import shutil
from pathlib import Path

import pytest

from xrdsim.errors import StructureError
from xrdsim.structures.reader import (
    CifSource,
    StructureRecord,
    iter_cif_sources,
    parse_cif,
    read_structures,
    split_data_blocks,
)

#: Each malformed file in tests/data/bad and a phrase its one error reason must contain.
BAD_CIFS = {
    "empty.cif": "empty file",
    "blank.cif": "empty file",
    "not_a_cif.cif": "no 'data_' block",
    "truncated.cif": "truncated or malformed CIF",
    "truncated_text_field.cif": "text field is never closed",
    "missing_cell.cif": "missing cell: _cell_length_b, _cell_angle_gamma",
    "no_atoms.cif": "no atom sites",
    "unknown_element.cif": "unknown element symbol 'Xx'",
    "zero_volume.cif": "zero or negative volume",
    "negative_edge.cif": "zero or negative volume",
    "degenerate_angles.cif": "zero or negative volume",
    "overlapping_atoms.cif": "atoms on top of each other: sites 'Cl1' and 'Cl2'",
    "duplicate_atoms.cif": "atoms on top of each other",
    "absurd_edge.cif": "absurd cell: edge 564.02",
    "absurd_volume.cif": "absurd cell: 15625 Å³ per atom",
    "no_cif_column.csv": "no CIF column",
    "empty.csv": "empty file",
    "unsupported_suffix.xyz": "unsupported file type",
    "folder_without_cifs": "folder holds no .cif",
}


def _records(items):
    return [r for r in items if isinstance(r, StructureRecord)]


def _errors(items):
    return [r for r in items if isinstance(r, StructureError)]


@pytest.mark.parametrize("name", sorted(BAD_CIFS))
def test_each_bad_file_gives_one_named_error(test_data: Path, name: str):
    path = test_data / "bad" / name
    assert path.exists()
    out = list(read_structures(path))
    assert len(out) == 1 and isinstance(out[0], StructureError), out
    assert out[0].source == str(path)
    assert BAD_CIFS[name] in out[0].reason


def test_missing_path_and_symlink_loop(tmp_path: Path):
    loop = tmp_path / "loop.cif"
    os.symlink(loop, loop)
    out = list(read_structures([tmp_path / "nowhere.cif", loop]))
    assert [e.reason for e in out] == ["no such file or folder",
                                       "symbolic link that is dangling or loops; skipped"]
    assert out[0].source == str(tmp_path / "nowhere.cif")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_file_that_cannot_be_read(tmp_path: Path):
    # /proc/self/mem exists but reading it from offset 0 fails with EIO, even as root
    path = tmp_path / "unreadable.cif"
    os.symlink("/proc/self/mem", path)
    (err,) = list(read_structures(path))
    assert err.source == str(path) and err.reason.startswith("cannot read file:")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path, test_data: Path):
    path = tmp_path / "locked.cif"
    shutil.copy(test_data / "cifs" / "NiO_225_sym.cif", path)
    path.chmod(0)
    try:
        (err,) = list(read_structures(path))
    finally:
        path.chmod(0o644)
    assert "cannot read file" in err.reason


def test_batch_goes_on_past_every_bad_input(test_data: Path):
    good = test_data / "cifs" / "NiO_225_sym.cif"
    bad = [test_data / "bad" / n for n in sorted(BAD_CIFS)]
    out = list(read_structures([good, *bad, good]))
    assert len(_errors(out)) == len(bad)
    assert [r.structure_id for r in _records(out)] == ["NiO_225_sym", "NiO_225_sym"]
    assert out[0].structure.composition.reduced_formula == "NiO"


def test_csv_rows_fail_alone(test_data: Path):
    path = test_data / "bad" / "mixed_batch.csv"
    out = list(read_structures(path))
    assert [r.structure_id for r in _records(out)] == ["mp-10009", "mp-1220884"]
    errors = {e.source: e.reason for e in _errors(out)}
    assert errors == {
        f"{path}#mp-1218989": "row 1: empty CIF cell",
        f"{path}#mp-1225695": errors[f"{path}#mp-1225695"],
    }
    assert "no atom sites" in errors[f"{path}#mp-1225695"]


def test_truncated_gzip_keeps_the_rows_before_the_damage(test_data: Path):
    path = test_data / "bad" / "truncated.csv.gz"
    out = list(read_structures(path))
    assert [r.structure_id for r in _records(out)] == ["mp-10009", "mp-1218989"]
    (err,) = _errors(out)
    assert err.source == str(path) and "truncated or corrupt after 2 data rows" in err.reason


def test_every_shared_cif_parses(shared_data: Path):
    folders = sorted(p for p in (shared_data / "cifs").iterdir() if p.is_dir())
    out = list(read_structures(folders))
    assert not _errors(out), _errors(out)
    n_files = sum(len(list(f.glob("*.cif"))) for f in folders)
    assert len(out) == n_files >= 100
    # file order: folders as given, files sorted by name
    first = sorted((folders[0]).glob("*.cif"))[0]
    assert out[0].source == str(first) and out[0].structure_id == first.stem
    assert any(not r.structure.is_ordered for r in out)  # partial occupancies survive


def test_mp20_rows_parse_with_ids(shared_data: Path):
    path = shared_data / "structures" / "mp20_test.csv.gz"
    out = list(itertools.islice(read_structures(path), 200))
    assert not _errors(out)
    assert out[0].structure_id == "mp-10009" and out[0].source == f"{path}#mp-10009"
    assert out[0].structure.composition.reduced_formula == "GaTe"
    assert out[0].declared_space_group == 1  # MP-20 CIFs are written in P1
    assert "b_iso" not in out[0].structure.site_properties


def test_declared_space_group_and_u_iso(test_data: Path):
    rec = parse_cif(_source(test_data / "cifs" / "Li7La3Zr2O12_230.cif"))
    assert rec.declared_space_group == 230
    b = {s.label: s.properties["b_iso"] for s in rec.structure}
    # _atom_site_U_iso_or_equiv La1 0.0208(4), Zr1 0.0161(4): B = 8π²U
    assert b["La1"] == pytest.approx(8 * math.pi**2 * 0.0208)
    assert b["Zr1"] == pytest.approx(8 * math.pi**2 * 0.0161)
    assert len(rec.structure) == len(rec.structure.site_properties["b_iso"])
    li = [s for s in rec.structure if s.label == "Li1"]
    assert li and li[0].species.num_atoms == pytest.approx(0.433)


def test_b_iso_given_for_some_sites(test_data: Path):
    rec = parse_cif(_source(test_data / "cifs" / "LiOH-H2O_12.cif"))
    assert rec.declared_space_group == 12
    b = {s.label: s.properties["b_iso"] for s in rec.structure}
    assert b["H1"] == pytest.approx(12.3) and b["H2"] == pytest.approx(14.0)
    assert b["Li1"] == 0.0  # '.' in the CIF: no value, no damping


def test_shelx_cif(test_data: Path):
    rec = parse_cif(_source(test_data / "cifs" / "Fe5O7_41GPa.cif"))
    assert rec.declared_space_group == 12
    assert rec.structure.composition.reduced_formula == "Fe5O7"
    b = {s.label: s.properties["b_iso"] for s in rec.structure}
    assert b["Fe1"] == pytest.approx(8 * math.pi**2 * 0.0123)


def test_mixed_occupancy_at_one_position_is_legitimate(test_data: Path):
    text = (test_data / "cifs" / "NiO_225_sym.cif").read_text()
    line = "  Ni  Ni0  4  0.00000000  0.00000000  0.00000000  1.0\n"
    mixed = (
        "  Ni  Ni0  4  0.00000000  0.00000000  0.00000000  0.6\n"
        "  Mg  Mg0  4  0.00000000  0.00000000  0.00000000  0.4\n"
    )
    assert line in text
    rec = parse_cif(CifSource("mixed", "mixed", text.replace(line, mixed)))
    comp = rec.structure.composition
    assert comp["Ni"] == pytest.approx(2.4) and comp["Mg"] == pytest.approx(1.6)


def test_declared_space_group_from_hm_symbol_only(test_data: Path):
    text = (test_data / "cifs" / "Fe5O7_41GPa.cif").read_text()
    text = text.replace("_space_group_IT_number            12\n", "")
    assert parse_cif(CifSource("s", "s", text)).declared_space_group == 12  # 'C 2/m'


def test_csv_column_detection(tmp_path: Path, test_data: Path):
    cif = (test_data / "cifs" / "NiO_225_sym.cif").read_text().replace('"', "")
    path = tmp_path / "set.csv"
    path.write_text(f'name,CIF\nA,"{cif}"\nA,"{cif}"\n,"{cif}"\n')
    ids = [s.structure_id for s in iter_cif_sources(path)]
    assert ids == ["set#0", "set#1", "set#2"]  # no material_id column: <stem>#<row>
    ids = [s.structure_id for s in iter_cif_sources(path, id_column="name")]
    assert ids == ["A", "A#1", "set#2"]  # repeated / empty ids fall back to the row
    (err,) = list(iter_cif_sources(path, id_column="mpid"))
    assert "id column 'mpid' not found" in err.reason
    (err,) = list(iter_cif_sources(path, cif_column="cif"))  # explicit names are exact
    assert "no CIF column" in err.reason
    assert len(list(iter_cif_sources(path, cif_column="CIF"))) == 3


def test_multi_block_cif(tmp_path: Path, test_data: Path):
    texts = [(test_data / "cifs" / n).read_text() for n in ("NiO_225_sym.cif", "LiOH-H2O_12.cif")]
    path = tmp_path / "two.cif"
    path.write_text("\n".join(texts))
    blocks = split_data_blocks(path.read_text())
    sources = list(iter_cif_sources(path))
    assert [s.structure_id for s in sources] == [f"two#{name}" for name, _ in blocks]
    formulas = [parse_cif(s).structure.composition.reduced_formula for s in sources]
    assert formulas == ["NiO", "LiH3O2"]


def _source(path: Path) -> CifSource:
    return CifSource(str(path), path.stem, path.read_text())


def test_error_records_and_sources_pickle(test_data: Path):
    """Sources and errors travel to dask process workers: they must survive pickling."""
    import pickle

    items = list(iter_cif_sources([test_data / "bad" / "empty.cif",
                                   test_data / "cifs" / "NiO_225_sym.cif"]))
    back = pickle.loads(pickle.dumps(items))
    assert isinstance(back[0], StructureError)
    assert (back[0].source, back[0].reason) == (items[0].source, items[0].reason)
    assert back[1] == items[1]
    record = parse_cif(items[1])
    assert pickle.loads(pickle.dumps(record)).structure == record.structure
