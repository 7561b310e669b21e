"""Rigaku .ras / .rasx, Bruker .brml and Philips .udf (issue 31, item 16): pinned values on
real instrument files (tests/data/patterns/rigaku, tests/data/patterns/brml; sources and
licences in tests/data/patterns/README.md), each file's own header against its data, and
refusals of truncated, non-2θ and hostile files. No redistributable real .udf exists; its
test file is PyXRD's (a synthetic ramp in the real layout), see docs/measured.md."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

from xrdsim.errors import PatternReadError
from xrdsim.measured import archive
from xrdsim.measured.readers import read_pattern

#: Cu Kα doublet with the standard 2:1 weights, as the Rigaku files give no ratio.
RIGAKU_KA = (1.540593 + 0.5 * 1.544414) / 1.5
#: The Bruker tube: Kα1 1.5406, Kα2 1.54439, ratio 0.5 from the file.
BRUKER_KA = (1.5406 + 0.5 * 1.54439) / 1.5


@pytest.fixture(scope="module")
def rigaku(test_data) -> Path:
    return test_data / "patterns" / "rigaku"


def brml_from_members(folder: Path, stem: str, out: Path, *, raw_xml: bytes | None = None) -> Path:
    """A .brml container of the real ``DataContainer.xml`` and ``RawData0.xml`` of ``stem``
    (stored unchanged in tests/data/patterns/brml), the raw data replaced by ``raw_xml``."""
    raw = raw_xml if raw_xml is not None else (folder / f"{stem}.RawData0.xml").read_bytes()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Experiment0/DataContainer.xml",
                    (folder / f"{stem}.DataContainer.xml").read_bytes())
        zf.writestr("Experiment0/RawData0.xml", raw)
    return out


@pytest.fixture(scope="module")
def brml_dir(test_data) -> Path:
    return test_data / "patterns" / "brml"


@pytest.fixture()
def attenuation_brml(brml_dir, tmp_path) -> Path:
    return brml_from_members(brml_dir, "BRML_attenuation", tmp_path / "BRML_attenuation.brml")


def test_ras_smartlab_scan_pinned_and_its_header_agrees_with_its_rows(rigaku):
    p = read_pattern(rigaku / "rigaku_test.ras")
    assert p.format == "rigaku_ras" and p.two_theta.size == 1401
    assert (p.two_theta[0], p.two_theta[-1]) == (2.0, 30.0)
    np.testing.assert_allclose(np.diff(p.two_theta), 0.02, atol=1e-9)
    assert p.intensity[:4].tolist() == [7994, 7788, 7984, 7799] and p.intensity[-1] == 1150
    assert p.wavelength == pytest.approx(RIGAKU_KA, abs=1e-12)
    m = p.metadata
    assert (m["start"], m["stop"], m["step"], m["n_declared"]) == (2.0, 30.0, 0.02, 1401)
    assert m["wave_type"] == "Ka" and "standard 2:1" in m["wavelength_rule"]
    assert (m["kalpha1"], m["kalpha2"]) == (1.540593, 1.544414)
    assert m["counting_time_s"] == pytest.approx(60 * 0.02 / 0.25)  # 0.25 deg/min continuous
    assert (m["sample"], m["scan_axis"], m["attenuated_points"]) == ("MB120718Si3", "TwoTheta", 0)


def test_rasx_smartlab_scan_pinned(rigaku):
    p = read_pattern(rigaku / "rigaku_test.rasx")
    assert p.format == "rigaku_rasx" and p.two_theta.size == 2151
    assert (p.two_theta[0], p.two_theta[-1]) == (8.5, 30.0)
    np.testing.assert_allclose(np.diff(p.two_theta), 0.01, atol=1e-9)
    assert p.intensity[:3].tolist() == [591, 609, 598] and p.intensity[-1] == 524
    assert p.wavelength == pytest.approx(RIGAKU_KA, abs=1e-12)
    assert p.metadata["sample"] == "RM20220915Si01" and p.metadata["scan_axis"] == "TwoThetaTheta"
    assert p.metadata["counting_time_s"] == pytest.approx(0.6)  # 0.01° at 1 deg/min


def test_rasx_with_a_kalpha1_monochromator_uses_kalpha1_alone(rigaku):
    p = read_pattern(rigaku / "TwoTheta_scan_powder.rasx")
    assert p.two_theta.size == 2726 and (p.two_theta[0], p.two_theta[-1]) == (10.0, 119.0)
    np.testing.assert_allclose(np.diff(p.two_theta), 0.04, atol=1e-9)
    assert p.intensity[0] == 170.55354309082 and p.intensity[-1] == 13.8521060943604
    assert p.metadata["wave_type"] == "Ka1" and p.metadata["wavelength_rule"] == "kalpha1 alone"
    assert p.wavelength == 1.540593 and p.metadata["system"] == "SmartLabXE"


def test_brml_attenuated_xrr_scan_pinned(attenuation_brml):
    p = read_pattern(attenuation_brml)
    assert p.format == "bruker_brml" and p.two_theta.size == 396
    assert (p.two_theta[0], p.two_theta[-1]) == (0.2, 4.15)
    np.testing.assert_allclose(np.diff(p.two_theta), 0.01, atol=1e-9)
    assert p.intensity[:3].tolist() == [5073145, 5226298, 5396314] and p.intensity[-1] == 19
    assert p.wavelength == pytest.approx(BRUKER_KA, abs=1e-12)
    m = p.metadata
    assert (m["kalpha1"], m["kalpha2"], m["ratio_kalpha2_kalpha1"]) == (1.5406, 1.54439, 0.5)
    assert (m["step"], m["counting_time_s"], m["n_planned"]) == (0.01, 0.5, 396)
    assert m["absorption_factors"] == [1.0, 8.8, 77.0] and m["absorbed_points"] == 68


def test_brml_counts_are_stored_already_multiplied_by_the_absorption_factor(brml_dir):
    """The file's own evidence: counts under the 8.8 absorber are whole multiples of 8.8 (raw
    counts × factor), and where the absorber changes the stored series runs on smoothly
    (neighbour ratio near 1) instead of jumping by the factor ratio (77/8.8, 8.8)."""
    text = (brml_dir / "BRML_attenuation.RawData0.xml").read_text(encoding="utf-8")
    rows = np.array([[float(v) for v in d.split(",")]
                     for d in re.findall(r"<Datum>([^<]*)</Datum>", text)])
    factor, counts = rows[:, 1], rows[:, 7]
    raw = counts[factor == 8.8] / 8.8
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-6)
    switches = np.flatnonzero(np.diff(factor))
    assert len(switches) == 2
    for i in switches:
        assert 0.5 < counts[i + 1] / counts[i] < 1.0, (i, counts[i:i + 2])


@pytest.mark.parametrize(("edit", "match"), [
    (lambda t: t.replace("*RAS_INT_END", "", 1), r"no \*RAS_INT_END; is the file truncated"),
    (lambda t: t.replace('*MEAS_DATA_COUNT "1401', '*MEAS_DATA_COUNT "1500', 1),
     r"declares 1500 points but 1401 follow"),
    (lambda t: t.replace('*MEAS_SCAN_AXIS_X_INTERNAL "TwoTheta"',
                         '*MEAS_SCAN_AXIS_X_INTERNAL "Omega"', 1), r"scan axis is 'Omega', not 2θ"),
    (lambda t: t.replace("2.0200 7788.0000 1.0000", "2.0200 7788.0000 -1", 1),
     r"attenuation-factor column has values <= 0"),
    (lambda t: t.replace("*RAS_DATA_START", "RAS", 1), r"not a Rigaku .ras file"),
])
def test_ras_refusals_name_the_problem(rigaku, tmp_path, edit, match):
    text = (rigaku / "rigaku_test.ras").read_bytes().decode("latin-1")
    path = tmp_path / "edited.ras"
    path.write_bytes(edit(text).encode("latin-1"))
    with pytest.raises(PatternReadError, match=match):
        read_pattern(path)


def _rewrite_member(source: Path, out: Path, name: str, edit) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, edit(data) if info.filename == name else data)
    return out


def test_rasx_refusals(rigaku, tmp_path):
    conditions = "Data0/MesurementConditions0.xml"
    cases = [
        (lambda d: d.replace(b"<AxisName>TwoThetaTheta", b"<AxisName>Omega"),
         conditions, r"scan axis is 'Omega'"),
        (lambda d: d.replace(b"<DataCount>2151", b"<DataCount>2152"), conditions,
         r"declares 2152 points but 2151 follow"),
        (lambda d: b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]>' + d.split(b"?>", 1)[1],
         conditions, r"MesurementConditions0.xml' declares a DTD or entities"),
    ]
    for edit, member, match in cases:
        path = _rewrite_member(rigaku / "rigaku_test.rasx", tmp_path / "e.rasx", member, edit)
        with pytest.raises(PatternReadError, match=match):
            read_pattern(path)


def test_brml_refusals(brml_dir, tmp_path):
    text = (brml_dir / "BRML_attenuation.RawData0.xml").read_bytes()
    theta_first = text.replace(b'<ScanAxisInfo AxisId="TwoTheta"', b'<ScanAxisInfo AxisId="X"', 1)
    psd = text.replace(b'Start="7" Length="1" MeasuredDataIndex="0"',
                       b'Start="7" Length="3" MeasuredDataIndex="0"')
    entity = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]>' + text.split(b"?>", 1)[1]
    for raw, match in [(theta_first, r"primary axis is 'X', not TwoTheta"),
                       (psd, r"records 3 values per step"),
                       (entity, r"RawData0.xml' declares a DTD or entities")]:
        path = brml_from_members(brml_dir, "BRML_attenuation", tmp_path / "e.brml", raw_xml=raw)
        with pytest.raises(PatternReadError, match=match):
            read_pattern(path)


def test_zip_containers_are_read_safely(attenuation_brml, tmp_path, monkeypatch):
    evil = tmp_path / "evil.brml"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.xml", "<x/>")
    with pytest.raises(PatternReadError, match=r"'../outside.xml', which points outside"):
        read_pattern(evil)
    locked = tmp_path / "locked.rasx"
    with zipfile.ZipFile(locked, "w") as zf:
        zf.writestr("Data0/Profile0.txt", "1 2 1\n2 3 1\n")
        zf.writestr("Data0/MesurementConditions0.xml", "<MeasurementConditions/>")
    data = bytearray(locked.read_bytes())  # set the "encrypted" flag of the first member
    data[6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    locked.write_bytes(bytes(data))
    with pytest.raises(PatternReadError, match=r"Profile0.txt' is encrypted"):
        read_pattern(locked)
    (tmp_path / "plain.rasx").write_text("8.5 591 1\n")
    with pytest.raises(PatternReadError, match=r"not a zip archive; a Rigaku .rasx file is one"):
        read_pattern(tmp_path / "plain.rasx")
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 50_000)  # RawData0.xml is 53,841 bytes
    with pytest.raises(PatternReadError, match=r"RawData0.xml' declares 53841 bytes, more than"):
        read_pattern(attenuation_brml)


def test_prepare_reads_the_new_formats_by_suffix(rigaku, attenuation_brml, tmp_path):
    """`xrdsim prepare` (and so `predict` and `evaluate --measured`, which read through the
    same read_pattern) picks each reader by the file's suffix; no --wavelength is needed."""
    files = [rigaku / "rigaku_test.ras", rigaku / "rigaku_test.rasx",
             rigaku / "TwoTheta_scan_powder.rasx", attenuation_brml]
    result = CliRunner().invoke(cli, ["prepare", *map(str, files), "-o",
                                      str(tmp_path / "p.zarr"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [Path(s).name for s in summary["sources"]] == [f.name for f in files]
    assert summary["errors"] == []


@pytest.fixture(scope="module")
def udf_text(test_data) -> str:
    return (test_data / "patterns" / "philips" / "pyxrd_test_udf_parser.udf").read_text()


def test_udf_layout_of_pyxrds_test_file(udf_text, tmp_path):
    path = tmp_path / "ramp.udf"
    path.write_text(udf_text)
    with pytest.raises(PatternReadError, match="states no wavelength"):
        read_pattern(path)
    p = read_pattern(path, wavelength="CuKa")
    assert p.format == "philips_udf" and p.two_theta.size == 33
    np.testing.assert_allclose(p.two_theta, 5.0 + 0.02 * np.arange(33), atol=1e-12)
    assert p.two_theta[-1] == pytest.approx(5.64)
    assert p.intensity[:3].tolist() == [8000, 7000, 6000] and p.intensity[-2:].tolist() == [1, 0]
    assert (p.metadata["sample"], p.metadata["title"]) == ("Sample5", "Dat2rit program")
    lines = udf_text.splitlines()  # the wavelength lines of a PC-APD header (CrysFML's example)
    lines[3:3] = ["LabdaAlpha1, 1.54060,/", "LabdaAlpha2, 1.54439,/", "RatioAlpha21, 0.50000,/",
                  "DivergenceSlit,Fixed, 1/2,/", "ScanStepTime,    5.00,/"]
    path.write_text("\n".join(lines))
    p = read_pattern(path)
    assert p.wavelength == pytest.approx((1.5406 + 0.5 * 1.54439) / 1.5, abs=1e-12)
    assert p.metadata["counting_time_s"] == 5.0


@pytest.mark.parametrize(("edit", "match"), [
    (lambda t: t.replace("0/", "0"), r"no '/' closes the RawScan counts; is the file truncated"),
    (lambda t: t.replace("5.6400", "5.7000"), r"means 36.000 points but 33 counts follow"),
    (lambda t: t.replace("5.6400", "5.6500"), r"means 33.500 points but 33 counts follow"),
    (lambda t: t.replace("ScanStepSize,     0.020,/\n", ""), r"no ScanStepSize line"),
    (lambda t: t.replace("    80,", "    8O,"), r"line 9: .* is not counts"),
    (lambda t: t.replace("RawScan", "Rawscan"), r"no RawScan line"),
    (lambda t: t.replace("SampleIdent", "Sample"), r"not SampleIdent; not a Philips .udf"),
])
def test_udf_refusals(udf_text, tmp_path, edit, match):
    path = tmp_path / "edited.udf"
    path.write_text(edit(udf_text))
    with pytest.raises(PatternReadError, match=match):
        read_pattern(path, wavelength="CuKa")
