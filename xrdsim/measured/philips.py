"""Philips / PANalytical ``.udf`` text (PC-APD, X'Pert and Empyrean Data Collector exports).

Layout, as xylib's ``philips_udf`` and CrysFML's UDF reader read it, and as PyXRD's test file
and a real Empyrean export (docs/measured.md) show it: header
lines ``Key,value[,value…],/`` (a value may itself hold commas: ``DivergenceSlit,Fixed,
1/2,/``), from ``SampleIdent`` on, up to a line ``RawScan``; then the counts, comma-separated,
eight to a line, the last one followed by ``/``. The 2θ axis is not stored: it is
``DataAngleRange`` start + k·``ScanStepSize``, and the number of counts must be the one that
range and step imply (a file without the closing ``/`` or with another count is refused as
truncated or inconsistent). λ from ``LabdaAlpha1``, ``LabdaAlpha2`` (the vendor's spelling)
and ``RatioAlpha21`` (:func:`xrdsim.measured.formats.doublet_wavelength`), counting time
``ScanStepTime``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.columns import MAX_HEADER_POINTS, STEP_REL_TOL
from xrdsim.measured.formats import doublet_wavelength


def _header(lines: list[str], src: str) -> tuple[dict[str, str], int]:
    """``{key: value}`` of the header lines and the index of the ``RawScan`` line."""
    fields: dict[str, str] = {}
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "RawScan":
            return fields, k
        if not stripped:
            continue
        key, _, value = stripped.partition(",")  # a bare key ("Title2") has no value
        fields[key.strip()] = value.rstrip("/").rstrip().rstrip(",").strip()
    raise PatternReadError(src, "no RawScan line: the counts are missing")


def _numbers(fields: dict[str, str], key: str, count: int, src: str) -> list[float]:
    if key not in fields:
        raise PatternReadError(src, f"no {key} line; it places the counts in 2θ")
    try:
        values = [float(v) for v in fields[key].split(",")]
    except ValueError:
        raise PatternReadError(src, f"{key} is {fields[key]!r}, not {count} number(s)") \
            from None
    if len(values) != count:
        raise PatternReadError(src, f"{key} is {fields[key]!r}, not {count} number(s)")
    return values


def _optional(fields: dict[str, str], key: str, src: str) -> float | None:
    return _numbers(fields, key, 1, src)[0] if fields.get(key) else None


def read_udf(text: str, src: str, fmt: str) -> tuple:
    """Reader of :data:`xrdsim.measured.readers.FORMATS` ``"philips_udf"`` (see the module
    doc)."""
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if not first.startswith("SampleIdent"):
        raise PatternReadError(src, f"starts with {first[:30]!r}, not SampleIdent; not a "
                               "Philips .udf file")
    fields, raw_line = _header(lines, src)
    start, end = _numbers(fields, "DataAngleRange", 2, src)
    (step,) = _numbers(fields, "ScanStepSize", 1, src)
    if not (np.isfinite(start) and np.isfinite(end) and np.isfinite(step)) or step <= 0 \
            or end <= start or (end - start) / step > MAX_HEADER_POINTS:
        raise PatternReadError(src, f"DataAngleRange {start:g}–{end:g} with ScanStepSize "
                               f"{step:g} is not a scan; need start < end and a step > 0")
    values: list[float] = []
    closed = False
    for k, line in enumerate(lines[raw_line + 1:], start=raw_line + 2):
        body, slash, _ = line.partition("/")
        try:
            values.extend(float(v) for v in body.replace(",", " ").split())
        except ValueError:
            raise PatternReadError(src, f"line {k}: {line.strip()[:40]!r} is not counts") \
                from None
        if slash:
            closed = True
            break
    if not closed:
        raise PatternReadError(src, "no '/' closes the RawScan counts; is the file truncated?")
    steps = (end - start) / step
    expected = round(steps) + 1
    if abs(steps + 1 - expected) > STEP_REL_TOL * expected or len(values) != expected:
        raise PatternReadError(src, f"DataAngleRange {start:g}–{end:g} in steps of {step:g} "
                               f"means {steps + 1:.3f} points but {len(values)} counts follow")
    meta: dict[str, Any] = {
        "step": step, "start": start, "end": end,
        "counting_time_s": _optional(fields, "ScanStepTime", src),
        "scan_type": fields.get("ScanType"), "anode": fields.get("Anode"),
        "diffractometer": fields.get("DiffrType"), "sample": fields.get("SampleIdent"),
        "title": fields.get("Title1")}
    wl = doublet_wavelength(_optional(fields, "LabdaAlpha1", src),
                            _optional(fields, "LabdaAlpha2", src),
                            _optional(fields, "RatioAlpha21", src), meta)
    x = start + step * np.arange(expected, dtype=np.float64)
    return x, np.asarray(values, dtype=np.float64), None, wl, meta
