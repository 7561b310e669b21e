"""Column-text readers of measured patterns: xy / xye / FullProf / .ASC columns and Fit2D .chi.

Each reader takes the file text and returns ``(two_theta, intensity, sigma or None,
file wavelength Å or None, metadata)`` for :func:`xrdsim.measured.readers.read_pattern`, which
cleans the axis and builds the :class:`~xrdsim.measured.readers.MeasuredPattern`.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError

#: Relative tolerance when checking a FullProf "start step end" header against the
#: number of values that follow (steps are printed with few decimals).
STEP_REL_TOL = 1e-3
#: A FullProf header implying more points than this (e.g. step 1e-320) is not a header.
MAX_HEADER_POINTS = 10**7

# Numbers, including nan / inf so that such rows reach the finite check and are refused.
_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$",
                     re.IGNORECASE)
_SPLIT = re.compile(r"[\s,;]+")
_WAVELENGTH_IN_HEADER = re.compile(
    r"(?:wavelength|lambda|λ)[^0-9=:]*[=:]?\s*([0-9]*\.[0-9]+)", re.IGNORECASE
)


def _numeric_rows(text: str) -> tuple[list[list[float]], list[str], int, str]:
    """Split text into rows of numbers; non-numeric lines are header/comment lines."""
    rows: list[list[float]] = []
    header: list[str] = []
    skipped_after_data = 0
    first_skipped = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        tokens = [t for t in _SPLIT.split(stripped) if t]
        if stripped[0] in "#!;'\"*/" or not all(_NUMBER.match(t) for t in tokens):
            if rows:
                skipped_after_data += 1
                first_skipped = first_skipped or stripped[:60]
            elif len(header) < 200:
                header.append(stripped)
            continue
        rows.append([float(t) for t in tokens])
    return rows, header, skipped_after_data, first_skipped


#: A digit, a comma, a digit: "12,5" is twelve and a half in European notation.
_DECIMAL_COMMA = re.compile(r"\d,\d")


def _refuse_decimal_commas(text: str, src: str) -> None:
    """Refuse data written with decimal commas ("10,05  1234,5").

    Split at the commas, such rows read as integer 2θ values and the fractions as extra
    columns: a silently wrong pattern. A row counts as European when it has a digit-comma-
    digit, no '.', and a separator other than the comma (whitespace or ';').
    """
    rows = european = 0
    for line in text.splitlines()[:5000]:
        stripped = line.strip()
        if not stripped or not stripped[0].isdigit() and stripped[0] not in "+-":
            continue
        rows += 1
        if ("." not in stripped and _DECIMAL_COMMA.search(stripped)
                and re.search(r"[\s;]", stripped)):
            european += 1
    if rows and european > rows // 2:
        raise PatternReadError(src, f"{european} of {rows} data rows use decimal commas "
                               "('10,05 1234,5'); replace the decimal commas by points "
                               "(e.g. sed 's/,/./g') and read the file again")


def _header_wavelength(header: list[str]) -> float | None:
    for line in header:
        match = _WAVELENGTH_IN_HEADER.search(line)
        if match:
            return float(match.group(1))
    return None


def _read_columns(text: str, src: str, fmt: str) -> tuple:
    """Whitespace/comma separated columns: 2θ, intensity[, σ]; or FullProf free format.

    The third column is σ only for ``xye`` and ``asc``: in ``.xy`` files it is often
    something else (the autoxrd examples carry a fitted background there), so it is
    ignored and ``metadata["n_columns"]`` records that it existed.
    """
    _refuse_decimal_commas(text, src)
    rows, header, skipped, first_skipped = _numeric_rows(text)
    if not rows:
        raise PatternReadError(
            src, "no numeric data found; expected lines of '2θ intensity [σ]' numbers"
        )
    if skipped:
        warnings.warn(f"{src}: {skipped} non-numeric line(s) among the data were skipped "
                      f"(first: {first_skipped!r})", UserWarning, stacklevel=4)
    meta: dict[str, Any] = {"header": header, "skipped_lines_after_data": skipped}
    wl = _header_wavelength(header)
    fixed = _start_step_end(rows, src) if fmt in ("xy", "fullprof") else None
    if fixed is not None:
        meta["layout"] = "start-step-end"
        x, y = fixed
        return x, y, None, wl, meta
    widths = {len(r) for r in rows}
    if len(widths) != 1 or min(widths) < 2:
        counts = {w: sum(len(r) == w for r in rows) for w in sorted(widths)}
        raise PatternReadError(
            src, f"data rows have differing numbers of columns {counts}; expected every "
            "row to be '2θ intensity' or '2θ intensity σ'",
        )
    data = np.asarray(rows, dtype=np.float64)
    meta["layout"] = "columns"
    meta["n_columns"] = int(data.shape[1])
    sigma = data[:, 2].copy() if data.shape[1] >= 3 and fmt in ("xye", "asc") else None
    if sigma is not None and np.any(sigma < 0):
        raise PatternReadError(src, "the third column (σ) has negative values; is it σ?")
    return data[:, 0].copy(), data[:, 1].copy(), sigma, wl, meta


def _start_step_end(rows: list[list[float]], src: str) -> tuple[np.ndarray, np.ndarray] | None:
    """FullProf INS=0 free format: 'start step end' then the intensities, any per line."""
    first = rows[0]
    if len(first) != 3 or len(rows) < 2 or all(len(r) == 3 for r in rows):
        return None
    start, step, end = first
    values = np.asarray([v for r in rows[1:] for v in r], dtype=np.float64)
    if not (np.isfinite(start) and np.isfinite(end) and np.isfinite(step)):
        return None
    if step <= 0 or end <= start or (end - start) / step > MAX_HEADER_POINTS:
        return None
    n_expected = round((end - start) / step) + 1
    if abs((end - start) / step + 1 - n_expected) > STEP_REL_TOL * n_expected:
        return None
    if values.size != n_expected:
        raise PatternReadError(
            src, f"header 'start {start:g} step {step:g} end {end:g}' implies {n_expected} "
            f"intensities but {values.size} follow; the file is truncated or not in "
            "FullProf free format",
        )
    return start + step * np.arange(n_expected, dtype=np.float64), values


#: x-axis labels of .chi files that are not 2θ (Fit2D writes "2-Theta Angle (Degrees)",
#: PeakPo's background files put comments there instead, which are accepted).
_NOT_TWO_THETA = re.compile(r"(^|[^a-z])(q|d)([^a-z]|$)|nm\^?-1|a\^?-1|1/a", re.IGNORECASE)


def _read_chi(text: str, src: str, fmt: str) -> tuple:
    """Fit2D .chi: title, x-axis label, y-axis label, number of points, then columns."""
    lines = text.splitlines()
    if len(lines) < 5:
        raise PatternReadError(src, "a .chi file needs 4 header lines and data; this one is "
                               f"{len(lines)} line(s) long")
    head = [ln.strip() for ln in lines[:4]]
    if _NOT_TWO_THETA.search(head[1]):
        raise PatternReadError(
            src, f"the x axis is {head[1]!r}; only 2θ .chi files are supported (integrate "
            "to 2θ in Fit2D / pyFAI, or convert q / d to 2θ first)",
        )
    try:
        declared = int(head[3].split()[0])
    except (ValueError, IndexError):
        raise PatternReadError(src, f"line 4 should be the number of points, got {head[3]!r}")\
            from None
    x, y, s, _, meta = _read_columns("\n".join(lines[4:]), src, "asc")
    if x.size != declared:
        raise PatternReadError(
            src, f"header declares {declared} points but {x.size} follow; the file is truncated"
        )
    meta.update(title=head[0], x_label=head[1], y_label=head[2], header=head)
    return x, y, s, None, meta
