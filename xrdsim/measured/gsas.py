"""GSAS powder data files (``.gsa``, ``.gss``, ``.gsas``, ``.fxye``): the first constant-step bank.

Layout (GSAS manual, Larson & Von Dreele, LAUR 86-748, "Raw data file"): an 80-column
title line, optional ``#`` comment lines, then per bank a ``BANK`` record::

    BANK ibank nchan nrec BINTYP bcoef1 bcoef2 bcoef3 bcoef4 TYPE

For constant-wavelength data ``BINTYP`` is ``CONST`` / ``CONS``: ``bcoef1`` is the first
2θ and ``bcoef2`` the step, both in centidegrees. ``TYPE`` (default ``STD``) is the layout
of the ``nchan`` points that follow:

=====  ====================================================================================
STD    10 fields of 8 columns per record, each ``I2`` counters (blank = 1) + ``I6`` count;
       the intensity is the count, its variance count / counters
ESD    5 pairs of 8-column fields per record: intensity, its esd
FXYE   one point per line, free format: 2θ (centidegrees), intensity, esd
=====  ====================================================================================

A GSAS data file states no wavelength (it lives in the instrument parameter file): the
wavelength comes from the caller, except where a comment line states it as
``# ... wavelength = 0.413259`` (the 11-BM files). ``# ... Time per step (sec) = 0.2``
gives the counting time. Time-of-flight banks (``RALF``, ``SLOG``, ``TIME_MAP``) and the
``ALT`` layout are refused with their names; of a file with several banks the first is
read, with a warning.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError

#: ``BANK`` record types this reader reads (``STD`` when the record names none).
GSAS_TYPES = ("STD", "ESD", "FXYE")
#: Most points one bank may declare (a 0.001° scan of 0–160° has 1.6·10⁵).
MAX_GSAS_POINTS = 1_000_000
_WAVELENGTH = re.compile(r"wavelength\s*(?:\(.*?\))?\s*[=:]\s*([0-9]*\.?[0-9]+)", re.I)
_STEP_TIME = re.compile(r"time per step\s*(?:\(s(?:ec)?\))?\s*[=:]\s*([0-9]*\.?[0-9]+)", re.I)


def _bank(line: str, src: str) -> tuple[int, str, float, float]:
    """(nchan, TYPE, first 2θ °, step °) of a ``BANK`` record."""
    fields = line.split()
    if len(fields) < 7:
        raise PatternReadError(src, f"BANK record {line.strip()!r} has {len(fields)} fields; "
                               "expected BANK ibank nchan nrec BINTYP bcoef1 bcoef2 ...")
    binning = fields[4].upper()
    if binning not in ("CONST", "CONS"):
        raise PatternReadError(src, f"BANK binning {fields[4]!r} is not constant-step 2θ "
                               "(CONST / CONS): time-of-flight data are not read")
    kind = next((f.upper() for f in fields[5:] if f.upper() in (*GSAS_TYPES, "ALT")), "STD")
    if kind == "ALT":
        raise PatternReadError(src, f"BANK layout ALT is not read; this reader reads "
                               f"{', '.join(GSAS_TYPES)} (export the file as FXYE)")
    try:
        nchan = int(fields[2])
        start, step = float(fields[5]) / 100.0, float(fields[6]) / 100.0
    except ValueError:
        raise PatternReadError(src, f"BANK record {line.strip()!r}: nchan, bcoef1, bcoef2 "
                               "must be numbers") from None
    if not 2 <= nchan <= MAX_GSAS_POINTS or not (np.isfinite(start) and step > 0):
        raise PatternReadError(src, f"BANK record {line.strip()!r}: need 2 to "
                               f"{MAX_GSAS_POINTS} points and a step > 0")
    return nchan, kind, start, step


def _fixed_fields(lines: list[str], width: int, count: int) -> list[str]:
    """The first ``count`` non-blank ``width``-column fields of ``lines`` (80-column records)."""
    out: list[str] = []
    for line in lines:
        record = line.rstrip("\r\n")[:80]
        for i in range(0, len(record), width):
            field = record[i:i + width]
            if field.strip():
                out.append(field)
                if len(out) == count:
                    return out
    return out


def bank_points(kind: str, body: list[str], nchan: int, src: str
            ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, int]:
    """(2θ ° or None, intensity, σ, records used) of the ``nchan`` points of a bank in layout
    ``kind`` (``body``: the lines after its BANK record; None: 2θ from bcoef1, bcoef2)."""
    if kind == "FXYE":
        rows = [line.split() for line in body if line.strip()][:nchan]
        if len(rows) < nchan or any(len(r) < 3 for r in rows):
            raise PatternReadError(src, f"the BANK declares {nchan} FXYE points but "
                                   f"{len(rows)} lines of '2θ intensity esd' follow; "
                                   "is the file truncated?")
        values = np.array([r[:3] for r in rows], dtype=np.float64)
        return values[:, 0] / 100.0, values[:, 1], values[:, 2], len(rows)
    per_point = 1 if kind == "STD" else 2
    fields = _fixed_fields(body, 8, nchan * per_point)
    if len(fields) < nchan * per_point:
        raise PatternReadError(src, f"the BANK declares {nchan} {kind} points but the file "
                               f"holds {len(fields) // per_point}; is it truncated?")
    records = -(-nchan * per_point // 10)  # ceil: 10 fields per 80-column record
    if kind == "ESD":
        pairs = np.array(fields, dtype=np.float64).reshape(nchan, 2)
        return None, pairs[:, 0], pairs[:, 1], records
    counters = np.array([int(f[:2]) if f[:2].strip() else 1 for f in fields], dtype=np.float64)
    counts = np.array([f[2:] for f in fields], dtype=np.float64)
    if np.any(counters < 1):
        raise PatternReadError(src, "a STD field gives fewer than 1 counter")
    return None, counts, np.sqrt(np.clip(counts, 0, None) / counters), records


def gsas_header(lines: list[str], src: str) -> dict[str, Any]:
    """What the lines before the first ``BANK`` record and that record state.

    Returns:
        ``{"title", "banks" (line indices of the BANK records), "nchan", "bank_type",
        "start", "step" (°), "wavelength" (Å or None), "wavelength_line",
        "counting_time_s"}`` — the last two only when a comment states them.
    """
    banks = [i for i, line in enumerate(lines) if line.startswith("BANK")]
    if not banks:
        raise PatternReadError(src, "no BANK record: not a GSAS powder data file")
    nchan, kind, start, step = _bank(lines[banks[0]], src)
    head: dict[str, Any] = {"title": lines[0].strip() if banks[0] > 0 else "", "banks": banks,
                            "nchan": nchan, "bank_type": kind, "start": start, "step": step,
                            "wavelength": None}
    for line in lines[1:banks[0]]:
        if not line.lstrip().startswith("#"):
            continue
        if (m := _WAVELENGTH.search(line)) and head["wavelength"] is None:
            head.update(wavelength=float(m.group(1)), wavelength_line=line.strip())
        if m := _STEP_TIME.search(line):
            head["counting_time_s"] = float(m.group(1))
    return head


def read_gsas(text: str, src: str, fmt: str) -> tuple:
    """Reader of :data:`xrdsim.measured.readers.FORMATS` ``"gsas"`` (see the module doc)."""
    lines = text.splitlines()
    head = gsas_header(lines, src)
    banks, nchan, kind = head.pop("banks"), head["nchan"], head["bank_type"]
    start, step, wavelength = head.pop("start"), head["step"], head.pop("wavelength")
    meta: dict[str, Any] = {**head, "n_banks": len(banks)}
    if len(banks) > 1:
        warnings.warn(f"{src}: {len(banks)} BANK records; only the first is read",
                      UserWarning, stacklevel=4)
    first = banks[0]
    end = banks[1] if len(banks) > 1 else len(lines)
    x, y, sigma, used = bank_points(kind, lines[first + 1:end], nchan, src)
    if x is None:
        x = start + step * np.arange(nchan)  # CONST: 2θ_i = bcoef1 + i·bcoef2 (centidegrees)
    left = [line for line in lines[first + 1 + used:end] if line.strip()]
    if left:
        meta["ignored_lines"] = len(left)
        warnings.warn(f"{src}: {len(left)} line(s) after the {nchan} points the BANK "
                      "declares were ignored", UserWarning, stacklevel=4)
    return x, y, sigma, wavelength, meta
