"""Bruker / Siemens DIFFRAC lab formats: binary ``.raw`` (RAW, RAW2, RAW1.01, RAW4.00) and
text ``.uxd``.

Layouts (byte offsets little-endian, from the file's start or the block's start), as
documented in DIFFRAC-AT's "Raw Data File Format" appendix (``RAW `` and ``RAW2``),
DIFFRAC^plus XCH 5.0 Appendix A (``RAW1.01``) and as read by xylib (``RAW4.00``):

- ``RAW `` (v1): per range a 152-byte header — steps u32 @0 (after the 4-byte magic for the
  first range), time per step f32 @4, step f32 @8, scan mode u32 @12, 2θ start f32 @20,
  Kα1 f32 @72, Kα2 f32 @76, "another range follows" u32 @152−4 — then ``steps`` f32 counts;
  a later range may repeat the ``RAW `` magic.
- ``RAW2`` (v2): range count u16 @4; Kα1 f32 @190, Kα2 f32 @194, Kα2/Kα1 ratio f32 @198;
  ranges from byte 256: header length u16 @0, steps u16 @2, time per step f32 @8, step f32
  @12, 2θ start f32 @16, then the counts (f32) after ``header length`` bytes.
- ``RAW1.01`` (v3): a 712-byte file header — range count u32 @12, date @16, time @26,
  anode @608, Kα average f64 @616, Kα1 f64 @624, Kα2 f64 @632, Kβ f64 @640, Kα2/Kα1 ratio
  f64 @648; per range a 304-byte header — steps u32 @4, 2θ start f64 @16, step f64 @176,
  time per step f32 @192, λ used f64 @240, supplementary header size u32 @256 — then the
  supplementary headers, then ``steps`` f32 counts.
- ``RAW4.00`` (v4): 61 bytes, then segments (type u32, length u32); type 30 (hardware)
  holds Kα average/Kα1/Kα2/Kβ/ratio f64 @+72…+104; a type 0 or 160 starts a range: scan
  type @+32 (24 chars), start f64 @+72, step f64 @+80, steps u32 @+88, time per step f32
  @+92, λ used f64 @+112, datum size u32 @+136, further header size u32 @+140, 160 bytes
  in all; then the further headers and the counts.

``RAW1.01`` is checked against four real files (``shared/data/patterns/xylib_samples``,
BT86.raw point for point against its own UXD export); ``RAW ``, ``RAW2`` and ``RAW4.00``
only against files written in the layout above (``tests/data/patterns/``).

A file with several ranges gives its first, with a warning (as XRDML's several scans).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.binary import ByteReader, check_range_count
from xrdsim.measured.formats import doublet_wavelength

#: v4 range segment types (a scan range starts with one of these).
_V4_RANGE = (0, 160)
#: v4 scan types read as 2θ scans (others, e.g. rocking curves, are skipped).
_V4_TWO_THETA_SCANS = ("Locked Coupled", "Unlocked Coupled", "Detector Scan", "2Theta")


def _range(start: float, step: float, counts: np.ndarray, src: str, **meta: Any) -> dict:
    if not (np.isfinite(start) and np.isfinite(step)) or step <= 0:
        raise PatternReadError(src, f"range header: 2θ start {start:g}, step {step:g}; need a "
                               "finite start and a step > 0")
    return {"x": start + step * np.arange(counts.size), "y": counts,
            "meta": {"start": start, "step": step, **meta}}


def first_range(ranges: list[dict], src: str, meta: dict[str, Any]) -> tuple:
    """``(x, y)`` of the first range; the others are counted in ``meta`` and warned about."""
    if not ranges:
        raise PatternReadError(src, "no 2θ scan range in the file")
    meta["n_ranges"] = len(ranges)
    meta.update(ranges[0]["meta"])
    if len(ranges) > 1:
        warnings.warn(f"{src}: {len(ranges)} ranges in the file; only the first "
                      f"({ranges[0]['x'][0]:g}–{ranges[0]['x'][-1]:g}°) is read",
                      UserWarning, stacklevel=5)
    return ranges[0]["x"], ranges[0]["y"]


def _v1(r: ByteReader) -> tuple[list[dict], tuple]:
    ranges, follows, k1 = [], 1, None
    k2 = None
    while follows:
        if ranges and r.data[r.offset:r.offset + 4] == b"RAW ":
            r.skip(4)
        steps = r.u32("steps")
        time = r.f32("time per step")
        step = r.f32("step")
        r.skip(8)  # scan mode, unused
        start = r.f32("2θ start")
        r.skip(12 + 32)  # θ, χ, φ starts; sample name
        k1, k2 = r.f32("Kα1"), r.f32("Kα2")
        r.skip(72)
        follows = r.u32("next-range flag")
        ranges.append(_range(start, step, r.floats(steps, "counts"), r.src,
                             counting_time_s=time))
        check_range_count(len(ranges), r.src)
    return ranges, (k1, k2, None)


def _v2(r: ByteReader) -> tuple[list[dict], tuple]:
    count = r.u16("range count")
    check_range_count(count, r.src)
    r.skip(162)
    r.skip(22)  # date-time, anode
    k1, k2, ratio = r.f32("Kα1"), r.f32("Kα2"), r.f32("Kα2/Kα1 ratio")
    r.offset = 256
    ranges = []
    for _ in range(count):
        block = r.offset
        header = r.u16("range header length")
        if header < 48:
            raise PatternReadError(r.src, f"range header length {header} < 48 bytes")
        steps = r.u16("steps")
        r.skip(4)
        time, step, start = r.f32("time per step"), r.f32("step"), r.f32("2θ start")
        r.offset = block
        r.skip(header, "range header")
        ranges.append(_range(start, step, r.floats(steps, "counts"), r.src,
                             counting_time_s=time))
    return ranges, (k1, k2, ratio)


def _v3(r: ByteReader, meta: dict[str, Any]) -> tuple[list[dict], tuple]:
    r.offset = 12
    count = r.u32("range count")
    check_range_count(count, r.src)
    meta["measured"] = f"{r.text(10, 'date')} {r.text(10, 'time')}".strip()
    r.offset = 608
    meta["anode"] = r.text(4, "anode")
    r.offset = 616
    average, k1, k2, kb, ratio = r.unpack("5d", "wavelengths")
    meta.update(kalpha_average=average, kbeta=kb)
    r.offset = 712
    ranges = []
    for _ in range(count):
        block = r.offset
        header = r.u32("range header length")
        if header != 304:
            raise PatternReadError(r.src, f"range header length {header}, expected 304 in a "
                                   "RAW1.01 file; damaged?")
        steps = r.u32("steps")
        r.offset = block + 16
        start = r.f64("2θ start")
        r.offset = block + 176
        step = r.f64("step")
        r.offset = block + 192
        time = r.f32("time per step")
        r.offset = block + 240
        used = r.f64("λ used")
        r.offset = block + 256
        extra = r.u32("supplementary header size")
        r.offset = block + 304
        r.skip(extra, "supplementary headers")
        ranges.append(_range(start, step, r.floats(steps, "counts"), r.src,
                             counting_time_s=time, used_lambda=used))
    return ranges, (k1, k2, ratio)


def _v4(r: ByteReader, meta: dict[str, Any]) -> tuple[list[dict], tuple]:
    r.offset = 61
    doublet: tuple = (None, None, None)
    kind = r.u32("segment type")
    while kind not in _V4_RANGE:
        block = r.offset - 4
        length = r.u32("segment length")
        if length < 8:
            raise PatternReadError(r.src, f"segment of type {kind} at byte {block} has length "
                                   f"{length} < 8; damaged?")
        if kind == 30 and length >= 120:  # hardware configuration
            r.offset = block + 72
            average, k1, k2, kb, ratio = r.unpack("5d", "wavelengths")
            meta.update(kalpha_average=average, kbeta=kb)
            doublet = (k1, k2, ratio)
        r.offset = block
        r.skip(length, f"segment of type {kind}")
        kind = r.u32("segment type")
    ranges, skipped = [], []
    while True:
        block = r.offset - 4
        r.offset = block + 32
        scan = r.text(24, "scan type")
        r.offset = block + 72
        start, step = r.f64("start angle"), r.f64("step")
        steps = r.u32("steps")
        time = r.f32("time per step")
        r.offset = block + 112
        used = r.f64("λ used")
        r.offset = block + 136
        datum, further = r.u32("datum size"), r.u32("further header size")
        r.offset = block + 160
        r.skip(further, "range headers")
        if scan in _V4_TWO_THETA_SCANS and datum == 4:
            ranges.append(_range(start, step, r.floats(steps, "counts"), r.src,
                                 counting_time_s=time, used_lambda=used, scan_type=scan))
        else:
            skipped.append(scan)
            r.skip(datum * steps, "counts")
        check_range_count(len(ranges) + len(skipped), r.src)
        if r.at_end():
            break
        if r.u32("segment type") not in _V4_RANGE:
            raise PatternReadError(r.src, f"byte {r.offset - 4}: neither a range nor the end "
                                   "of the file; damaged?")
    if skipped:
        meta["skipped_scan_types"] = skipped
        if not ranges:
            raise PatternReadError(r.src, f"no 2θ range: scan types {skipped}; only "
                                   f"{', '.join(_V4_TWO_THETA_SCANS)} scans are read")
    return ranges, doublet


#: Magic bytes at the start of each version of the binary format.
RAW_VERSIONS = {b"RAW1.01": "RAW1.01", b"RAW4.00": "RAW4.00", b"RAW2": "RAW2", b"RAW ": "RAW"}


def read_bruker_raw(data: bytes, src: str, fmt: str) -> tuple:
    """Bruker DIFFRAC ``.raw``, any of the four versions (see the module docstring)."""
    version = next((v for magic, v in RAW_VERSIONS.items() if data.startswith(magic)), None)
    if version is None:
        raise PatternReadError(src, f"starts with {data[:7]!r}, not a Bruker RAW magic "
                               f"({', '.join(RAW_VERSIONS.values())}); not a Bruker .raw file "
                               "(Philips and other vendors also use .raw: pass fmt=)")
    meta: dict[str, Any] = {"raw_version": version}
    reader = ByteReader(data, src, 4)
    if version == "RAW":
        ranges, doublet = _v1(reader)
    elif version == "RAW2":
        ranges, doublet = _v2(reader)
    elif version == "RAW1.01":
        ranges, doublet = _v3(reader, meta)
    else:
        ranges, doublet = _v4(reader, meta)
    x, y = first_range(ranges, src, meta)
    return x, y, None, doublet_wavelength(*doublet, meta), meta


_UXD_DATA = re.compile(r"^_(2THETACOUNTS|2THETACPS|COUNTS|CPS|2THETA)\s*$", re.IGNORECASE)
_UXD_KEY = re.compile(r"^_([A-Z0-9_]+)\s*=\s*(.*)$", re.IGNORECASE)


def _uxd_number(fields: dict[str, str], key: str, src: str) -> float | None:
    if key not in fields:
        return None
    try:
        return float(fields[key].strip("'\""))
    except ValueError:
        raise PatternReadError(src, f"_{key}={fields[key]!r} is not a number") from None


def read_uxd(text: str, src: str, fmt: str) -> tuple:
    """Bruker / Siemens ``.uxd`` text: ``_KEY=value`` lines, ``;`` comments, and per range a
    data section (``_2THETACOUNTS`` / ``_2THETACPS``: 2θ and value per line; ``_COUNTS`` /
    ``_CPS``: values only, 2θ = ``_START`` + k·``_STEPSIZE``). λ from ``_WL1``, ``_WL2``,
    ``_WLRATIO``; counting time ``_STEPTIME``."""
    file_fields: dict[str, str] = {}
    fields: dict[str, str] = {}
    ranges, section, values = [], None, []

    def close() -> None:
        if section is None:
            return
        with_x = section.startswith("2THETA")
        flat = np.array(values, dtype=np.float64)
        if with_x:
            if flat.size % 2:
                raise PatternReadError(src, f"a _{section} section has an odd number of "
                                       "values; expected '2θ value' pairs")
            x, y = flat[0::2], flat[1::2]
        else:
            start, step = _uxd_number(fields, "START", src), _uxd_number(fields, "STEPSIZE", src)
            if start is None or step is None:
                raise PatternReadError(src, f"a _{section} section without _START and "
                                       "_STEPSIZE; cannot place its values in 2θ")
            x = _range(start, step, flat, src)["x"]
            y = flat
        ranges.append({"x": x, "y": y, "meta": {
            "step": _uxd_number(fields, "STEPSIZE", src),
            "counting_time_s": _uxd_number(fields, "STEPTIME", src),
            "intensity_unit": "cps" if section.upper().endswith("CPS") else "counts"}})

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        data_start = _UXD_DATA.match(stripped)
        key = _UXD_KEY.match(stripped)
        if data_start:
            close()
            section, values = data_start.group(1).upper(), []
        elif key:
            if section is not None:  # a new range's keys end the previous data section
                close()
                section, fields = None, {}
            target = fields if ranges or fields or key.group(1).upper() in _UXD_RANGE_KEYS \
                else file_fields
            target[key.group(1).upper()] = key.group(2).strip()
        elif section is not None:
            try:
                values.extend(float(t) for t in stripped.replace(",", " ").split())
            except ValueError:
                raise PatternReadError(src, f"line {stripped[:40]!r} in a _{section} section "
                                       "is not numbers") from None
    close()
    meta: dict[str, Any] = {"anode": file_fields.get("ANODE", "").strip("'")}
    x, y = first_range(ranges, src, meta)
    k1, k2 = _uxd_number(file_fields, "WL1", src), _uxd_number(file_fields, "WL2", src)
    wl = doublet_wavelength(k1, k2, _uxd_number(file_fields, "WLRATIO", src), meta)
    return x, y, None, wl, meta


#: Keys that open a range's block in a UXD file (everything before is file-wide).
_UXD_RANGE_KEYS = ("DRIVE", "STEPTIME", "STEPSIZE", "STEPMODE", "START")
