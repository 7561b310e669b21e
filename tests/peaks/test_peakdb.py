"""The HDF5 peak-database format: writer and reader on hand-made peak lists.

The expected values are the arrays handed to the writer (a NumPy reference of the
ragged layout), never the reader's own output. End-to-end runs on real structures
(:func:`xrdsim.write_peak_database`) are at the bottom of this file.
"""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

from xrdsim.errors import DatabaseError
from xrdsim.peaks import database as peakdb
from xrdsim.peaks.database import PeakDatabase, reason_counts
from xrdsim.peaks.lines import PeakList
from xrdsim.peaks.writer import PeakDatabaseWriter

N_STRUCTURES = 300  # ~30,000 peak rows: more than one HDF5 chunk (16,384 rows)


def _peak_list(rng: np.random.Generator, n: int) -> PeakList:
    two_theta = np.sort(rng.uniform(5.0, 120.0, n))
    raw = rng.uniform(1.0, 1e4, n)
    return PeakList(
        two_theta=two_theta, intensity=100.0 * raw / raw.max(), intensity_raw=raw,
        d=1.5418 / (2.0 * np.sin(np.radians(two_theta / 2.0))),
        hkl=rng.integers(-12, 13, (n, 3)), multiplicity=rng.integers(1, 49, n),
        wavelength=1.5418,
    )


def _labels(rng: np.random.Generator, i: int) -> dict:
    sg = int(rng.integers(1, 231))
    return {
        "formula": f"Li{i}O", "elements": "Li O", "space_group": sg,
        "space_group_symbol": f"SG{sg}", "crystal_system": int(rng.integers(0, 7)),
        "extinction_group": int(rng.integers(0, 100)), "extinction_symbol": "P---",
        "laue_class": "m-3m", "bravais_lattice": "cP", "a": rng.uniform(3, 20),
        "b": rng.uniform(3, 20), "c": rng.uniform(3, 20), "alpha": 90.0, "beta": 95.5,
        "gamma": 120.0, "declared_space_group": sg if i % 2 else 0,
        "num_sites": int(rng.integers(1, 21)),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A database of N_STRUCTURES random peak lists, plus what was written."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("db") / "peaks.h5"
    lists = [_peak_list(rng, int(rng.integers(1, 200))) for _ in range(N_STRUCTURES)]
    labels = [_labels(rng, i) for i in range(N_STRUCTURES)]
    with PeakDatabaseWriter(path, wavelength=1.5418, two_theta_range=(0.0, 120.0),
                            symprec=0.1, inputs=["a.csv", "b/"]) as writer:
        writer.add_error("first.cif", "unknown element 'Xx'")
        for i, (peaks, lab) in enumerate(zip(lists, labels, strict=True)):
            writer.add_structure(structure_id=f"mp-{i}", source=f"a.csv#mp-{i}", peaks=peaks,
                                 labels=lab)
        assert not writer.add_structure(structure_id="mp-3", source="b/again.cif",
                                        peaks=lists[0], labels=labels[0])
    return path, lists, labels


def test_round_trip_every_array_and_label(written):
    path, lists, labels = written
    with PeakDatabase(path) as db:
        assert len(db) == N_STRUCTURES
        for i in (0, 1, 57, N_STRUCTURES - 1):
            got = db.peaks(i)
            for name in peakdb.PEAK_FIELDS:
                np.testing.assert_array_equal(getattr(got, name), getattr(lists[i], name))
            assert got.wavelength == 1.5418
        table = db.labels
        for column in peakdb.LABEL_COLUMNS:
            expected = np.array([lab[column] for lab in labels])
            assert table[column].tolist() == expected.tolist(), column
        assert table["n_peaks"].tolist() == [len(p.two_theta) for p in lists]
        assert db.ids.tolist() == [f"mp-{i}" for i in range(N_STRUCTURES)]
        peaks, lab = db.record("mp-57")
        np.testing.assert_array_equal(peaks.hkl, lists[57].hkl)
        assert lab["source"] == "a.csv#mp-57" and lab["formula"] == "Li57O"
        assert isinstance(lab["space_group"], int)


def test_offsets_match_the_ragged_reference(written):
    path, lists, _ = written
    with h5py.File(path, "r") as f:
        offsets = f["peaks/offsets"][()]
        two_theta = f["peaks/two_theta"][()]
        assert f["peaks/hkl"].shape == (offsets[-1], 3)
    np.testing.assert_array_equal(offsets, np.concatenate([[0], np.cumsum(
        [len(p.two_theta) for p in lists])]))
    np.testing.assert_array_equal(two_theta, np.concatenate([p.two_theta for p in lists]))


@pytest.mark.parametrize("merge_gap", [0, peakdb.MERGE_GAP_ROWS, 10**9])
@pytest.mark.parametrize("preload", [False, True])
def test_ragged_random_subsets(written, monkeypatch, merge_gap, preload):
    path, lists, _ = written
    monkeypatch.setattr(peakdb, "MERGE_GAP_ROWS", merge_gap)
    rng = np.random.default_rng(3)
    db = PeakDatabase(path, preload=preload)
    for indices in (rng.integers(0, N_STRUCTURES, 64), [5, 3, 5, N_STRUCTURES - 1, 0], []):
        batch = db.ragged(indices)
        ref = [lists[i] for i in indices]
        np.testing.assert_array_equal(batch.indices, np.asarray(indices, dtype=np.int64))
        np.testing.assert_array_equal(
            batch.offsets, np.concatenate([[0], np.cumsum([len(p.two_theta) for p in ref])]))
        if ref:
            np.testing.assert_array_equal(batch.two_theta,
                                          np.concatenate([p.two_theta for p in ref]))
            np.testing.assert_array_equal(batch.intensity,
                                          np.concatenate([p.intensity for p in ref]))
        assert batch.two_theta.dtype == np.float64 and batch.offsets.dtype == np.int64
    db.close()


def test_iter_batches_cover_everything_in_order(written):
    path, lists, _ = written
    with PeakDatabase(path) as db:
        batches = list(db.iter_batches(128))
    assert [len(b) for b in batches] == [128, 128, N_STRUCTURES - 256]
    np.testing.assert_array_equal(np.concatenate([b.indices for b in batches]),
                                  np.arange(N_STRUCTURES))
    np.testing.assert_array_equal(np.concatenate([b.two_theta for b in batches]),
                                  np.concatenate([p.two_theta for p in lists]))


def test_errors_attrs_and_duplicates(written):
    path, _, _ = written
    db = PeakDatabase(path)
    errors = db.errors
    assert errors[0] == ("first.cif", "unknown element 'Xx'")
    assert errors[1][0] == "b/again.cif" and "duplicate structure id 'mp-3'" in errors[1][1]
    attrs = db.attrs
    assert attrs["format"] == peakdb.FORMAT_NAME and attrs["format_version"] == 3
    assert attrs["wavelength"] == 1.5418 and attrs["two_theta_range"] == (0.0, 120.0)
    assert attrs["symprec"] == 0.1 and attrs["inputs"] == ["a.csv", "b/"]
    assert attrs["package_versions"]["h5py"] == h5py.__version__
    assert attrs["n_structures"] == N_STRUCTURES and attrs["n_errors"] == 2
    summary = db.summary()
    assert summary["n_structures"] == N_STRUCTURES and summary["n_errors"] == 2
    assert sum(summary["crystal_systems"].values()) == N_STRUCTURES
    db.close()


def test_lookup_errors_suggest_close_ids(written):
    with PeakDatabase(written[0]) as db:
        with pytest.raises(DatabaseError, match="did you mean 'mp-12'"):
            db.peaks("mp-12x")
        with pytest.raises(DatabaseError, match="out of range"):
            db.peaks(N_STRUCTURES)
        with pytest.raises(DatabaseError, match=r"must lie in \[0, 300\)"):
            db.ragged([0, -1])
        assert db.index(-1) == N_STRUCTURES - 1


def test_reader_pickles_and_reopens(written):
    path, lists, _ = written
    db = PeakDatabase(path, preload=True)
    db.ragged([1, 2])
    _ = db.labels
    data = pickle.dumps(db)
    assert len(data) < 8 * (N_STRUCTURES + 1) + 2000  # the offsets, not the peaks or labels
    clone = pickle.loads(data)
    np.testing.assert_array_equal(clone.ragged([9]).two_theta, lists[9].two_theta)
    np.testing.assert_array_equal(clone.peaks(9).two_theta, lists[9].two_theta)
    db.close()
    clone.close()


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "peaks.h5"
    path.write_bytes(b"previous content")
    with pytest.raises(RuntimeError, match="boom"):
        with PeakDatabaseWriter(path, wavelength=1.5, two_theta_range=(0, 90), symprec=0.1,
                                overwrite=True) as writer:
            writer.add_error("x.cif", "bad")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["peaks.h5"]


def test_refuses_existing_output_and_missing_folder(tmp_path):
    (tmp_path / "peaks.h5").touch()
    with pytest.raises(DatabaseError, match="already exists; pass overwrite=True"):
        PeakDatabaseWriter(tmp_path / "peaks.h5", wavelength=1.5, two_theta_range=(0, 90),
                           symprec=0.1)
    with pytest.raises(DatabaseError, match="does not exist"):
        PeakDatabaseWriter(tmp_path / "nope" / "peaks.h5", wavelength=1.5,
                           two_theta_range=(0, 90), symprec=0.1)
    with pytest.raises(DatabaseError, match="is a folder"):
        PeakDatabaseWriter(tmp_path, wavelength=1.5, two_theta_range=(0, 90), symprec=0.1,
                           overwrite=True)


def _small_db(path):
    rng = np.random.default_rng(0)
    with PeakDatabaseWriter(path, wavelength=1.5, two_theta_range=(0, 90), symprec=0.1) as w:
        w.add_structure(structure_id="s", source="s.cif", peaks=_peak_list(rng, 50),
                        labels=_labels(rng, 0))
    return path


def test_reader_refuses_bad_files(tmp_path):
    with pytest.raises(DatabaseError, match="file does not exist"):
        PeakDatabase(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DatabaseError, match="not a readable HDF5 file"):
        PeakDatabase(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DatabaseError, match="not an xrdsim peak database"):
        PeakDatabase(tmp_path / "other.h5")

    incomplete = _small_db(tmp_path / "incomplete.h5")
    with h5py.File(incomplete, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(DatabaseError, match="incomplete"):
        PeakDatabase(incomplete)

    newer = _small_db(tmp_path / "newer.h5")
    with h5py.File(newer, "a") as f:
        f.attrs["format_version"] = peakdb.FORMAT_VERSION + 1
    with pytest.raises(DatabaseError, match="upgrade xrdsim"):
        PeakDatabase(newer)

    # version 2 indexed the lines in the CIF's cell: peaks read, Miller indices refused
    older = _small_db(tmp_path / "older.h5")
    with h5py.File(older, "a") as f:
        f.attrs["format_version"] = 2
    with PeakDatabase(older) as db:
        assert db.ragged([0]).two_theta.size > 0
        with pytest.raises(DatabaseError, match=r"older.h5 .*rebuild it with `xrdsim peaks`"):
            db.ragged([0], hkl=True)

    broken = _small_db(tmp_path / "broken.h5")
    with h5py.File(broken, "a") as f:
        del f["structures/formula"]
    with pytest.raises(DatabaseError, match="corrupt: datasets"):
        PeakDatabase(broken)

    truncated = _small_db(tmp_path / "truncated.h5")
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatabaseError):
        PeakDatabase(truncated).ragged([0])


def test_missing_label_column_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    labels = _labels(rng, 0)
    del labels["laue_class"]
    with pytest.raises(DatabaseError, match="lack columns \\['laue_class'\\]"):
        with PeakDatabaseWriter(tmp_path / "p.h5", wavelength=1.5, two_theta_range=(0, 90),
                                symprec=0.1) as w:
            w.add_structure(structure_id="s", source="s.cif", peaks=_peak_list(rng, 5),
                            labels=labels)
    assert not (tmp_path / "p.h5").exists()


def test_reason_counts_group_by_kind():
    reasons = ["unknown element 'Xx'", "unknown element 'Qq'", "cell volume is -3.2 Å^3",
               "cell volume is 0 Å^3", "unknown element \"Zz\""]
    assert reason_counts(reasons) == {"unknown element '…'": 3, "cell volume is … Å^3": 2}
    assert list(reason_counts(reasons, top=1)) == ["unknown element '…'"]


def test_item31_11_a_quote_every_member_shares_is_shown():
    constant = "not a CIF: no 'data_' block header (empty, truncated or not a CIF)"
    reasons = [constant] * 3 + ["unknown element symbol 'Wat' at site 'O5'",
                                "unknown element symbol 'OW' at site 'O5'"]
    assert reason_counts(reasons) == {constant: 3, "unknown element symbol '…' at site 'O5'": 2}


# ---- write_peak_database on real structures ---------------------------------------------

BAD_FILES = (
    "absurd_edge.cif", "absurd_volume.cif", "blank.cif", "degenerate_angles.cif",
    "duplicate_atoms.cif", "empty.cif", "empty.csv", "folder_without_cifs", "missing_cell.cif",
    "negative_edge.cif", "no_atoms.cif", "no_cif_column.csv", "not_a_cif.cif",
    "overlapping_atoms.cif", "truncated.cif", "truncated_text_field.cif", "unknown_element.cif",
    "unsupported_suffix.xyz", "zero_volume.cif",
)


def _mp20_rows(tmp_path, n: int, name: str = "mp20.csv"):
    """The first ``n`` rows of the bundled MP-20 sample as a CSV, and their rows."""
    import csv
    import gzip

    from xrdsim_cli.peaks import default_input

    with gzip.open(default_input(), "rt", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [row for _, row in zip(range(n), reader, strict=False)]
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path, rows


def test_database_holds_exactly_what_compute_peaks_gives(tmp_path):
    from xrdsim import write_peak_database
    from xrdsim.peaks.lines import compute_peaks
    from xrdsim.structures.fast_cif import parse_cif_fast
    from xrdsim.structures.reader import iter_cif_sources, parse_cif, read_structures
    from xrdsim.structures.symmetry import structure_labels

    csv_path, rows = _mp20_rows(tmp_path, 30)
    out = tmp_path / "peaks.h5"
    summary = write_peak_database([csv_path], out, wavelength="CuKa",
                                  two_theta_range=(5.0, 100.0), progress=False, chunk_size=7)
    assert (summary.n_structures, summary.n_failed, summary.n_inputs) == (30, 0, 30)
    with PeakDatabase(out) as db:
        assert db.attrs["wavelength"] == 1.54184 and db.attrs["two_theta_range"] == (5.0, 100.0)
        assert db.ids.tolist() == [row["material_id"] for row in rows]
        # MP-20's own spglib labels at symprec 0.1: an independent check of the table
        assert db.labels["space_group"].tolist() == [
            int(row["spacegroup_number_symprec0.1"]) for row in rows]
        # the job reads each row with the fast path (pymatgen where it refuses); the fast
        # path equals pymatgen's up to summation order (tests/structures/test_fast_cif.py),
        # so the database must hold exactly what compute_peaks gives on those records
        assert set(db.labels["reader"]) == {"fast"}
        records = [parse_cif_fast(s) or parse_cif(s) for s in iter_cif_sources([csv_path])]
        assert [r.structure_id for r in records] == [r.structure_id
                                                     for r in read_structures([csv_path])]
        for i, record in enumerate(records):
            expected = compute_peaks(record.structure, wavelength=1.54184,
                                     two_theta_range=(5.0, 100.0))
            got, labels = db.record(record.structure_id)
            want = structure_labels(record.structure, symprec=0.1)
            for name in peakdb.PEAK_FIELDS:
                np.testing.assert_array_equal(
                    getattr(got, name), want.standard_miller(expected.hkl) if name == "hkl"
                    else getattr(expected, name))
            assert (labels["space_group"], labels["crystal_system"], labels["extinction_group"],
                    labels["bravais_lattice"], labels["formula"]) == (
                want.space_group, want.crystal_system, want.extinction_group,
                want.bravais_lattice, want.formula)
            assert (labels["a"], labels["gamma"]) == (want.lattice[0], want.lattice[5])
            assert labels["n_peaks"] == len(expected.two_theta) and labels["source"] == (
                f"{csv_path}#{rows[i]['material_id']}")
        # the Miller indices and the table's (standardised) cell give every line's d:
        # 1/d² = hᵀ·G*·h with G* from a … γ (NumPy reference, not the kernels' code)
        batch = db.ragged(np.arange(len(db)), hkl=True)
        for i in range(len(db)):
            a, b, c, al, be, ga = (float(db.labels[k][i])
                                   for k in ("a", "b", "c", "alpha", "beta", "gamma"))
            ca, cb, cg = np.cos(np.radians([al, be, ga]))
            g = np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca],
                          [a * c * cb, b * c * ca, c * c]])
            h = batch.hkl[batch.offsets[i]:batch.offsets[i + 1]].astype(float)
            d = 1.0 / np.sqrt(np.einsum("ni,ij,nj->n", h, np.linalg.inv(g), h))
            # spglib's standardised cell is idealised at symprec: agreement to 1 %
            np.testing.assert_allclose(d, db.peaks(i).d, rtol=1e-2)


def _all_arrays(path) -> dict[str, np.ndarray]:
    out = {}

    def collect(name, obj):  # returns None, or visititems would stop early
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(collect)
    return out


def test_workers_do_not_change_the_file(tmp_path, test_data):
    from xrdsim import write_peak_database

    csv_path, _ = _mp20_rows(tmp_path, 20)
    inputs = [test_data / "bad" / "unknown_element.cif", csv_path, tmp_path / "missing.cif",
              test_data / "cifs" / "NiO_225_sym.cif"]
    one = write_peak_database(inputs, tmp_path / "w1.h5", workers=1, progress=False,
                              chunk_size=3)
    two = write_peak_database(inputs, tmp_path / "w2.h5", workers=2, progress=False,
                              chunk_size=3)
    assert one.n_structures == two.n_structures == 21 and one.n_failed == two.n_failed == 2
    a, b = _all_arrays(tmp_path / "w1.h5"), _all_arrays(tmp_path / "w2.h5")
    n_datasets = len(peakdb.PEAK_FIELDS) + 1 + len(peakdb.STRUCTURE_COLUMNS) + 2
    assert sorted(a) == sorted(b) and len(a) == n_datasets
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_scheduler_address_gives_the_same_file(tmp_path, test_data):
    from distributed import LocalCluster

    from xrdsim import write_peak_database

    inputs = sorted((test_data / "cifs").glob("*.cif")) + [tmp_path / "missing.cif"]
    write_peak_database(inputs, tmp_path / "local.h5", workers=1, progress=False)
    # an in-process cluster (threads) is enough to exercise the --scheduler code path
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        summary = write_peak_database(inputs, tmp_path / "remote.h5", progress=False,
                                      scheduler=cluster.scheduler_address, chunk_size=2)
    assert (summary.n_structures, summary.n_failed) == (4, 1)
    a, b = _all_arrays(tmp_path / "local.h5"), _all_arrays(tmp_path / "remote.h5")
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_bad_inputs_one_error_each_and_nothing_good_lost(tmp_path, test_data):
    from xrdsim import write_peak_database

    bad = test_data / "bad"
    good = sorted((test_data / "cifs").glob("*.cif"))
    inputs = [bad / name for name in BAD_FILES] + [tmp_path / "nope.cif"] + good
    summary = write_peak_database(inputs, tmp_path / "mixed.h5", progress=False, chunk_size=4)
    write_peak_database(good, tmp_path / "clean.h5", progress=False)
    assert summary.n_failed == len(BAD_FILES) + 1 and summary.n_structures == len(good)
    with PeakDatabase(tmp_path / "mixed.h5") as db, PeakDatabase(tmp_path / "clean.h5") as ref:
        assert [source for source, _ in db.errors] == [str(p) for p in inputs[:-len(good)]]
        assert all(reason for _, reason in db.errors)
        assert db.ids.tolist() == ref.ids.tolist() == [p.stem for p in good]
        for i in range(len(good)):
            np.testing.assert_array_equal(db.peaks(i).intensity, ref.peaks(i).intensity)
    # empty.cif and blank.cif fail the same way; the summary keeps the 10 commonest kinds
    assert summary.failure_reasons["empty file"] == 2 and len(summary.failure_reasons) == 10


def test_csv_with_bad_rows_keeps_the_good_rows(tmp_path, test_data):
    from xrdsim import write_peak_database

    source = test_data / "bad" / "mixed_batch.csv"
    summary = write_peak_database([source], tmp_path / "p.h5", progress=False)
    with PeakDatabase(tmp_path / "p.h5") as db:
        assert db.ids.tolist() == ["mp-10009", "mp-1220884"]
        assert [s for s, _ in db.errors] == [f"{source}#mp-1218989", f"{source}#mp-1225695"]
    assert (summary.n_structures, summary.n_failed) == (2, 2)


def test_structure_without_peaks_in_range_is_an_error(tmp_path, test_data):
    from xrdsim import write_peak_database

    nio = test_data / "cifs" / "NiO_225_sym.cif"  # first NiO line (111) lies near 37° 2θ
    summary = write_peak_database([nio], tmp_path / "p.h5", two_theta_range=(0.0, 10.0),
                                  progress=False)
    assert (summary.n_structures, summary.n_failed) == (0, 1)
    with PeakDatabase(tmp_path / "p.h5") as db:
        assert len(db) == 0 and db.ragged([]).offsets.tolist() == [0]
        assert "no Bragg peaks between 0.0° and 10.0°" in db.errors[0][1]


def test_unexpected_exception_in_one_structure_is_recorded(tmp_path, test_data, monkeypatch):
    import xrdsim.peaks.lines
    from xrdsim import write_peak_database

    real = xrdsim.peaks.lines.compute_peaks

    def flaky(structure, **kwargs):
        if structure.composition.reduced_formula == "NiO":
            raise ValueError("kernel exploded")
        return real(structure, **kwargs)

    monkeypatch.setattr(xrdsim.peaks.lines, "compute_peaks", flaky)
    good = sorted((test_data / "cifs").glob("*.cif"))
    summary = write_peak_database(good, tmp_path / "p.h5", progress=False)
    assert summary.n_structures == len(good) - 1
    assert summary.failure_reasons == {"ValueError: kernel exploded": 1}


def test_settings_are_checked_before_any_work(tmp_path):
    from xrdsim import write_peak_database
    from xrdsim.errors import ConfigError

    out = tmp_path / "p.h5"
    with pytest.raises(ConfigError, match="0 <= min < max <= 180"):
        write_peak_database(["x.cif"], out, two_theta_range=(50, 10))
    with pytest.raises(ConfigError, match="symprec"):
        write_peak_database(["x.cif"], out, symprec=0.0)
    with pytest.raises(ConfigError, match="unknown wavelength"):
        write_peak_database(["x.cif"], out, wavelength="CuKz")
    with pytest.raises(ConfigError, match="no inputs"):
        write_peak_database([], out)
    out.touch()
    with pytest.raises(DatabaseError, match="already exists"):
        write_peak_database(["x.cif"], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.h5"]
