"""Bruker DIFFRAC.SUITE ``.brml``: a zip of XML documents.

Layout, as DIFFRAC.MEASUREMENT writes it and as GenX's ``bruker`` loader, PyXRD's
``brk_brml_parser`` and xrayutilities read it (checked on the real files of
``tests/data/patterns/brml``):

- ``Experiment<i>/DataContainer.xml`` lists the scans, ``RawDataReferenceList/string``, one
  ``Experiment<i>/RawData<j>.xml`` per scan (hundreds for a reciprocal-space map);
- in a ``RawData`` document, the ``DataRoute`` with ``RouteFlag="Measured"`` holds
  ``ScanInformation`` (``MeasurementPoints``, ``TimePerStep``, ``ScanAxes/ScanAxisInfo``
  with ``Start`` / ``Stop`` / ``Increment``), one ``<Datum>`` of comma-separated values per
  step, and ``DataViews`` naming the columns: ``FixedRawDataView`` ``MeasuredTime`` and
  ``AbsorptionFactor``, ``VaryingRawDataView`` drive positions (``FieldDefinitions`` with an
  ``AxisId``, one column each from ``Start``), ``RecordedRawDataView`` the detector counts;
- the tube's ``WaveLengthAlpha1`` / ``WaveLengthAlpha2`` / ``WaveLengthRatio`` (``Value``,
  ``Unit`` attributes) under ``FixedInformation``.

The first scan of the first experiment is read (several: a warning). Its primary scan axis
must be 2θ (a coupled 2θ-ω or 2θ-θ scan, or a detector scan; an ω rocking curve is
refused). 2θ comes from the ``ScanAxes`` view's ``TwoTheta`` column, the intensity from the
first recorded view (``MeasuredDataIndex`` 0), which must hold one value per step. The
counts are stored already multiplied by the absorber's ``AbsorptionFactor`` (GenX's reading,
and the real file's counts run on continuously where the factor changes; the test checks
it), so they are used as stored and the factors are only counted. λ from the tube lines as
for ``.raw`` (:func:`xrdsim.measured.formats.doublet_wavelength`).
"""

from __future__ import annotations

import re
import warnings
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.archive import open_archive, read_xml_member
from xrdsim.measured.formats import doublet_wavelength

_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_CONTAINER = re.compile(r"^Experiment\d+/DataContainer\.xml$")


def _raw_data_members(archive, src: str) -> list[str]:
    """The RawData members of the first experiment, in DataContainer order."""
    names = set(archive.namelist())
    containers = sorted(n for n in names if _CONTAINER.match(n))
    if not containers:
        raise PatternReadError(src, "no Experiment*/DataContainer.xml in the archive; not a "
                               "Bruker .brml file")
    container = read_xml_member(archive, containers[0], src)
    members = []
    for ref in container.findall("RawDataReferenceList/string"):
        name = (ref.text or "").strip().replace("\\", "/")
        if name not in names:
            raise PatternReadError(src, f"{containers[0]} lists {name!r}, which is not in the "
                                   "archive; is the file complete?")
        members.append(name)
    if not members:
        raise PatternReadError(src, f"{containers[0]} lists no raw data (RawDataReferenceList "
                               "is empty): no scan was stored")
    return members


def _float(el: ET.Element | None, what: str, src: str) -> float | None:
    if el is None or el.text is None or not el.text.strip():
        return None
    try:
        return float(el.text)
    except ValueError:
        raise PatternReadError(src, f"{what} is {el.text.strip()!r}, not a number") from None


def _columns(views: ET.Element, src: str) -> dict[str, int]:
    """Column indices: ``two_theta``, ``counts`` and, where present, ``time``, ``absorption``."""
    columns: dict[str, int] = {}
    two_theta = []  # (preferred, column) of every TwoTheta drive column
    recorded = []
    for view in views.findall("RawDataView"):
        kind, start = view.get(_XSI_TYPE, ""), int(view.get("Start", "0"))
        if kind == "FixedRawDataView" and view.get("LogicName") == "MeasuredTime":
            columns["time"] = start
        elif kind == "FixedRawDataView" and view.get("LogicName") == "AbsorptionFactor":
            columns["absorption"] = start
        elif kind == "VaryingRawDataView":
            varying = view.find("Varying")
            scan_axes = varying is not None and varying.get("LogicName") == "ScanAxes"
            for i, field in enumerate(view.iter("FieldDefinitions")):
                if field.get("AxisId") == "TwoTheta":
                    two_theta.append((not scan_axes, start + i))
        elif kind == "RecordedRawDataView":
            recorded.append((view.get("MeasuredDataIndex", "0") != "0", start,
                             int(view.get("Length", "1"))))
    if not two_theta:
        raise PatternReadError(src, "the DataViews name no TwoTheta column; not a 2θ scan")
    if not recorded:
        raise PatternReadError(src, "the DataViews name no recorded (detector) column")
    _, start, length = min(recorded)
    if length != 1:
        raise PatternReadError(src, f"the detector records {length} values per step (the "
                               "channels of a position-sensitive detector); only one count "
                               "per step is read — export the scan as .xy or .raw")
    columns["two_theta"], columns["counts"] = min(two_theta)[1], start
    return columns


def _datums(route: ET.Element, columns: dict[str, int], src: str) -> np.ndarray:
    rows = []
    for k, datum in enumerate(route.findall("Datum"), start=1):
        try:
            rows.append([float(v) for v in (datum.text or "").split(",")])
        except ValueError:
            raise PatternReadError(src, f"Datum {k} is {(datum.text or '')[:40]!r}, not "
                                   "comma-separated numbers") from None
    if len({len(r) for r in rows}) > 1:
        raise PatternReadError(src, "the Datum rows have differing numbers of values")
    table = np.asarray(rows, dtype=np.float64)
    if rows and max(columns.values()) >= table.shape[1]:
        raise PatternReadError(src, f"the DataViews name column {max(columns.values())} but "
                               f"each Datum holds {table.shape[1]} values")
    return table


def _tube_wavelength(root: ET.Element, meta: dict[str, Any], src: str) -> float | None:
    values = []
    for tag in ("WaveLengthAlpha1", "WaveLengthAlpha2", "WaveLengthRatio"):
        el = root.find(f".//{tag}")
        if el is None or el.get("Value") is None:
            values.append(None)
            continue
        try:
            value = float(el.get("Value"))
        except ValueError:
            raise PatternReadError(src, f"{tag} Value={el.get('Value')!r} is not a "
                                   "number") from None
        values.append(value * 10.0 if el.get("Unit") == "nm" else value)
    return doublet_wavelength(*values, meta)


def read_brml(data: bytes, src: str, fmt: str) -> tuple:
    """Bruker ``.brml`` (see the module docstring)."""
    archive = open_archive(data, src, "Bruker .brml")
    members = _raw_data_members(archive, src)
    meta: dict[str, Any] = {"raw_data_member": members[0], "n_scans": len(members)}
    if len(members) > 1:
        warnings.warn(f"{src}: {len(members)} scans in the archive (a reciprocal-space map "
                      f"or a multi-scan job); only {members[0]} is read", UserWarning,
                      stacklevel=4)
    root = read_xml_member(archive, members[0], src)
    routes = root.findall("DataRoutes/DataRoute")
    route = next((r for r in routes if r.get("RouteFlag") == "Measured"),
                 routes[0] if routes else None)
    if route is None:
        raise PatternReadError(src, f"{members[0]} has no DataRoutes/DataRoute")
    info = route.find("ScanInformation")
    axes = [] if info is None else info.findall("ScanAxes/ScanAxisInfo")
    if not axes or axes[0].get("AxisId") != "TwoTheta":
        primary = axes[0].get("AxisId") if axes else None
        raise PatternReadError(src, f"the scan's primary axis is {primary!r}, not TwoTheta; "
                               "only 2θ scans are read")
    scan = info.get("VisibleName") or info.get("ScanName")
    meta.update(scan_type=scan.strip() if scan else None,
                scan_mode=(info.findtext("ScanMode") or "").strip() or None,
                start=_float(axes[0].find("Start"), "the 2θ Start", src),
                stop=_float(axes[0].find("Stop"), "the 2θ Stop", src),
                step=_float(axes[0].find("Increment"), "the 2θ Increment", src),
                counting_time_s=_float(info.find("TimePerStep"), "TimePerStep", src))
    views = route.find("DataViews")
    if views is None:
        raise PatternReadError(src, f"{members[0]} has no DataViews naming its columns")
    columns = _columns(views, src)
    table = _datums(route, columns, src)
    if table.shape[0] < 2:
        raise PatternReadError(src, f"{table.shape[0]} Datum row(s): a still (fixed-detector) "
                               "exposure or an empty scan, not a 2θ scan")
    planned = _float(info.find("MeasurementPoints"), "MeasurementPoints", src)
    meta["n_planned"] = planned
    if planned is not None and table.shape[0] < planned:
        warnings.warn(f"{src}: {table.shape[0]} of {int(planned)} planned points were "
                      "measured (the scan stopped early)", UserWarning, stacklevel=4)
    if "absorption" in columns:
        factors = table[:, columns["absorption"]]
        meta["absorbed_points"] = int(np.sum(factors != 1.0))
        meta["absorption_factors"] = sorted({float(f) for f in factors})[:20]
    wl = _tube_wavelength(root, meta, src)
    return table[:, columns["two_theta"]], table[:, columns["counts"]], None, wl, meta
