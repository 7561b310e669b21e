"""Rigaku SmartLab / MiniFlex files: text ``.ras`` and the zip container ``.rasx``.

Layouts, as Rigaku's software writes them and as xrayutilities' ``rigaku_ras``, GenX's
``rigaku`` loader and FAIRmat's ``readers-xrd`` read them (checked on the real files of
``tests/data/patterns/rigaku``):

- ``.ras``: ``*RAS_DATA_START``; per scan ``*RAS_HEADER_START``, lines ``*KEY "value"``,
  ``*RAS_HEADER_END``, ``*RAS_INT_START``, one row ``x intensity [attenuation factor]`` per
  point, ``*RAS_INT_END``; ``*RAS_DATA_END``. Header text is often Shift-JIS; only ASCII keys
  and numbers are used.
- ``.rasx``: a zip; scan ``N`` is ``DataN/ProfileN.txt`` (tab-separated rows as in ``.ras``)
  with ``DataN/MesurementConditionsN.xml`` (the vendor's spelling): ``ScanInformation``
  (``AxisName``, ``Start``, ``Stop``, ``Step``, ``Speed``, ``DataCount``, ...) and
  ``HWConfigurations/XrayGenerator`` (``WaveType``, ``WavelengthKalpha1/2``, ``WavelengthKbeta``).

Both give the same fields, so one function (:func:`_scan`) turns them into a pattern: the
scan axis must be a 2θ axis (``TwoTheta``, ``TwoThetaTheta``, ``TwoThetaOmega``, ...; an
ω, χ or φ scan is refused), the point count must equal the declared one (a truncated file is
refused), the intensity is the stored value times the attenuation factor of its row (the
third column; 1 where no attenuator was in), and λ follows the generator's wave type: ``Ka1``
the Kα1 line, ``Kb`` the Kβ line, ``Ka`` (or none stated) the Kα doublet with the standard
2:1 weights, the files giving no ratio (:func:`xrdsim.measured.formats.doublet_wavelength`).
A file with several scans gives its first, with a warning.
"""

from __future__ import annotations

import re
import warnings
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.archive import open_archive, read_member, read_xml_member
from xrdsim.measured.bruker import first_range
from xrdsim.measured.formats import doublet_wavelength

#: Normalised scan-axis names read as 2θ (lower case, only letters and digits kept).
_TWO_THETA_AXES = re.compile(r"^(twotheta|2theta)|^theta2theta$|^thetatwotheta$")


def _number(value: str | None, what: str, src: str) -> float | None:
    if value is None or not value.strip() or value.strip() == "-":
        return None
    try:
        return float(value)
    except ValueError:
        raise PatternReadError(src, f"{what} is {value!r}, not a number") from None


def _wavelength(fields: dict[str, Any], meta: dict[str, Any], src: str) -> float | None:
    """λ by the generator's wave type (see the module docstring)."""
    k1 = _number(fields.get("kalpha1"), "the Kα1 wavelength", src)
    k2 = _number(fields.get("kalpha2"), "the Kα2 wavelength", src)
    kb = _number(fields.get("kbeta"), "the Kβ wavelength", src)
    wave = (fields.get("wave_type") or "").strip()
    meta["wave_type"] = wave or None
    key = wave.lower().replace("α", "a").replace("β", "b").replace("_", "")
    if key in ("kb", "kbeta"):
        wl = doublet_wavelength(kb, None, None, meta)
        if wl is not None:
            meta["wavelength_rule"] = "kbeta (the generator's wave type is Kb)"
        return wl
    ratio = 0.0 if key in ("ka1", "kalpha1") else None  # a Kα1 monochromator: Kα1 alone
    return doublet_wavelength(k1, k2, ratio, meta)


def _rows(lines: list[str], first_line: int, src: str) -> np.ndarray:
    """(n, 2 or 3) numbers of the profile rows ``x intensity [attenuation]``."""
    rows = []
    for k, line in enumerate(lines):
        tokens = line.split()
        if not tokens:
            continue
        try:
            rows.append([float(t) for t in tokens])
        except ValueError:
            raise PatternReadError(src, f"line {first_line + k}: {line.strip()[:40]!r} is not "
                                   "'angle intensity [attenuation]' numbers") from None
    widths = {len(r) for r in rows}
    if not rows or len(widths) != 1 or widths.pop() not in (2, 3):
        raise PatternReadError(src, "the profile needs rows of 2 or 3 numbers, 'angle "
                               "intensity [attenuation factor]'")
    return np.asarray(rows, dtype=np.float64)


def _scan(table: np.ndarray, fields: dict[str, Any], src: str) -> dict:
    """One scan (``{"x", "y", "meta"}`` as :func:`xrdsim.measured.bruker.first_range` takes)
    from its profile rows and its header ``fields`` (normalised names)."""
    axis = fields.get("axis") or ""
    if axis and not _TWO_THETA_AXES.match(re.sub(r"[^a-z0-9]", "", axis.lower())):
        raise PatternReadError(src, f"the scan axis is {axis!r}, not 2θ; only 2θ scans "
                               "(TwoTheta, TwoThetaTheta, TwoThetaOmega, ...) are read")
    unit = (fields.get("unit_x") or "deg").strip().lower()
    if unit not in ("deg", "degree", "°"):
        raise PatternReadError(src, f"the scan axis unit is {unit!r}, not degrees")
    declared = _number(fields.get("count"), "the declared point count", src)
    if declared is not None and int(declared) != table.shape[0]:
        raise PatternReadError(src, f"the header declares {int(declared)} points but "
                               f"{table.shape[0]} follow; is the file truncated?")
    x, y = table[:, 0], table[:, 1]
    meta: dict[str, Any] = {"scan_axis": axis or None, "n_declared": declared}
    if table.shape[1] == 3:
        factors = table[:, 2]
        if not np.all(np.isfinite(factors) & (factors > 0)):
            raise PatternReadError(src, "the attenuation-factor column has values <= 0 or "
                                   "non-finite ones")
        meta["attenuated_points"] = int(np.sum(factors != 1.0))
        y = y * factors
    for key, what in (("start", "scan start"), ("stop", "scan stop"), ("step", "step"),
                      ("speed", "scan speed")):
        meta[key] = _number(fields.get(key), f"the {what}", src)
    speed_unit = (fields.get("speed_unit") or "").strip().lower()
    meta.update(speed_unit=speed_unit or None, scan_mode=fields.get("mode"),
                intensity_unit=fields.get("intensity_unit"), sample=fields.get("sample"),
                system=fields.get("system"), target=fields.get("target"))
    step, speed = meta["step"], meta["speed"]
    if step and speed and speed_unit == "deg/min":  # continuous: time to sweep one step
        meta["counting_time_s"] = 60.0 * step / speed
    elif speed and speed_unit in ("s", "sec"):  # step scan: the dwell per step
        meta["counting_time_s"] = speed
    meta["wavelength"] = _wavelength(fields, meta, src)
    return {"x": x, "y": y, "meta": meta}


def _pattern(scans: list[dict], src: str) -> tuple:
    meta: dict[str, Any] = {}
    x, y = first_range(scans, src, meta)
    meta["n_scans"] = meta.pop("n_ranges")
    wl = meta.pop("wavelength")
    return x, y, None, wl, meta


#: ``.ras`` header keys -> the normalised field names of :func:`_scan`.
_RAS_KEYS = {"MEAS_SCAN_AXIS_X_INTERNAL": "axis", "MEAS_SCAN_UNIT_X": "unit_x",
             "MEAS_DATA_COUNT": "count", "MEAS_SCAN_START": "start", "MEAS_SCAN_STOP": "stop",
             "MEAS_SCAN_STEP": "step", "MEAS_SCAN_SPEED": "speed",
             "MEAS_SCAN_SPEED_UNIT": "speed_unit", "MEAS_SCAN_MODE": "mode",
             "MEAS_SCAN_UNIT_Y": "intensity_unit", "FILE_SAMPLE": "sample",
             "HW_GONIOMETER_NAME": "system", "HW_XG_TARGET_NAME": "target",
             "MEAS_COND_XG_WAVE_TYPE": "wave_type", "HW_XG_WAVE_LENGTH_ALPHA1": "kalpha1",
             "HW_XG_WAVE_LENGTH_ALPHA2": "kalpha2", "HW_XG_WAVE_LENGTH_BETA": "kbeta"}
_RAS_HEADER_LINE = re.compile(r'^\*([A-Za-z0-9_\-]+)\s+"(.*)"\s*$')


def read_ras(text: str, src: str, fmt: str) -> tuple:
    """Rigaku ``.ras`` (see the module docstring)."""
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first != "*RAS_DATA_START":
        raise PatternReadError(src, f"starts with {first[:30]!r}, not *RAS_DATA_START; not a "
                               "Rigaku .ras file")
    scans, fields, start = [], None, None
    for k, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped == "*RAS_HEADER_START":
            fields = {}
        elif stripped == "*RAS_INT_START":
            if fields is None:
                raise PatternReadError(src, f"line {k}: *RAS_INT_START without a header")
            start = k
        elif stripped == "*RAS_INT_END":
            if start is None:
                raise PatternReadError(src, f"line {k}: *RAS_INT_END without *RAS_INT_START")
            scans.append(_scan(_rows(lines[start:k - 1], start + 1, src), fields, src))
            fields, start = None, None
        elif start is None and fields is not None and (m := _RAS_HEADER_LINE.match(stripped)):
            key = m.group(1)
            if key in _RAS_KEYS:
                fields[_RAS_KEYS[key]] = m.group(2).split("|")[-1].strip()
            elif key == "MEAS_SCAN_AXIS_X":
                fields.setdefault("axis", m.group(2).strip())
    if start is not None:
        raise PatternReadError(src, "a scan's data has no *RAS_INT_END; is the file truncated?")
    return _pattern(scans, src)


def _xml_text(root: ET.Element, path: str) -> str | None:
    el = root.find(path)
    return None if el is None or el.text is None else el.text.strip()


#: ``MesurementConditions`` element paths -> the normalised field names of :func:`_scan`.
_RASX_PATHS = {"axis": "ScanInformation/AxisName", "count": "ScanInformation/DataCount",
               "start": "ScanInformation/Start", "stop": "ScanInformation/Stop",
               "step": "ScanInformation/Step", "speed": "ScanInformation/Speed",
               "speed_unit": "ScanInformation/SpeedUnit", "mode": "ScanInformation/Mode",
               "unit_x": "ScanInformation/PositionUnit",
               "intensity_unit": "ScanInformation/IntensityUnit",
               "sample": "GeneralInformation/SampleName",
               "system": "GeneralInformation/SystemName",
               "target": "HWConfigurations/XrayGenerator/TargetName",
               "wave_type": "HWConfigurations/XrayGenerator/WaveType",
               "kalpha1": "HWConfigurations/XrayGenerator/WavelengthKalpha1",
               "kalpha2": "HWConfigurations/XrayGenerator/WavelengthKalpha2",
               "kbeta": "HWConfigurations/XrayGenerator/WavelengthKbeta"}
_RASX_PROFILE = re.compile(r"^Data(\d+)/Profile(\d+)\.txt$")


def read_rasx(data: bytes, src: str, fmt: str) -> tuple:
    """Rigaku ``.rasx`` (see the module docstring)."""
    archive = open_archive(data, src, "Rigaku .rasx")
    groups = sorted((int(m.group(1)), name) for name in archive.namelist()
                    if (m := _RASX_PROFILE.match(name)) and m.group(1) == m.group(2))
    if not groups:
        images = [n for n in archive.namelist() if n.endswith(".bin")]
        kind = " (it holds detector images: a 2D measurement)" if images else ""
        raise PatternReadError(src, f"no DataN/ProfileN.txt profile in the archive{kind}; "
                               "only 1-D profiles are read")
    number, profile = groups[0]
    conditions = f"Data{number}/MesurementConditions{number}.xml"
    root = read_xml_member(archive, conditions, src)
    fields = {key: _xml_text(root, path) for key, path in _RASX_PATHS.items()}
    text = read_member(archive, profile, src).decode("utf-8-sig", errors="replace")
    scan = _scan(_rows(text.splitlines(), 1, src), fields, src)
    x, y, sigma, wl, meta = _pattern([scan], src)
    if len(groups) > 1:
        meta["n_scans"] = len(groups)
        warnings.warn(f"{src}: {len(groups)} profiles in the archive (a mapping or repeated "
                      f"scan); only {profile} is read", UserWarning, stacklevel=4)
    meta["profile_member"] = profile
    return x, y, sigma, wl, meta

