"""Readers for measured powder patterns: columns, PANalytical XRDML, Fit2D .chi, .ASC, pdCIF.

Every reader returns a :class:`MeasuredPattern`: 2θ in degrees (float64, strictly
increasing), intensity (float64), σ where the file gives it, and the wavelength in Å
when the file states it. Where the file does not, the caller must state it
(``read_pattern(path, wavelength="CuKa1")``, CLI ``--wavelength CuKa1``).

Policies for imperfect files (documented in ``docs/measured_patterns.md``):

- no numeric data, NaN / inf values, a 2θ axis that goes back and forth: refused
  (:class:`~xrdsim.errors.PatternReadError` naming the file and the fix);
- a scan recorded from high to low 2θ: reversed, with a warning;
- repeated 2θ values: the points are averaged (σ combined), with a warning;
- negative intensities: kept unchanged (background-subtracted files have them), with a warning.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, PatternReadError
from xrdsim.wavelengths import resolve_wavelength

#: Format names :func:`read_pattern` accepts for ``fmt``.
FORMATS = ("xy", "xye", "fullprof", "xrdml", "chi", "asc", "cif")
#: File suffix (lower case) -> format guessed from it. ``.dat`` is sniffed between
#: plain columns and FullProf's "start step end" free format.
SUFFIX_FORMATS = {
    ".xy": "xy", ".xye": "xye", ".txt": "xy", ".csv": "xy", ".dat": "xy",
    ".xrdml": "xrdml", ".chi": "chi", ".asc": "asc", ".cif": "cif",
}
#: Two file and user wavelengths closer than this (Å) are "the same" (no warning).
WAVELENGTH_TOL = 1e-4
#: Relative tolerance when checking a FullProf "start step end" header against the
#: number of values that follow (steps are printed with few decimals).
STEP_REL_TOL = 1e-3

# Numbers, including nan / inf so that such rows reach the finite check and are refused.
_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)$",
                     re.IGNORECASE)
_SPLIT = re.compile(r"[\s,;]+")
_WAVELENGTH_IN_HEADER = re.compile(
    r"(?:wavelength|lambda|λ)[^0-9=:]*[=:]?\s*([0-9]*\.[0-9]+)", re.IGNORECASE
)


@dataclasses.dataclass(frozen=True)
class MeasuredPattern:
    """One measured powder pattern as read from a file.

    Attributes:
        two_theta: (n,) float64, degrees 2θ, strictly increasing.
        intensity: (n,) float64, counts or arbitrary units as in the file.
        sigma: (n,) float64 standard uncertainties, or None when the file has none.
        wavelength: Å, from the file or the user; None when unknown.
        source: the file path.
        format: one of :data:`FORMATS`.
        metadata: what else was read (header lines, Kα1/Kα2/ratio, counting time, ...).
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    wavelength: float | None
    source: str
    format: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.two_theta, dtype=np.float64)
        y = np.ascontiguousarray(self.intensity, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise PatternReadError(
                self.source, f"need two 1-D arrays of equal length >= 2, got shapes "
                f"{x.shape} and {y.shape}",
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise PatternReadError(self.source, "2θ and intensity must be finite numbers")
        if np.any(np.diff(x) <= 0):
            raise PatternReadError(self.source, "2θ must be strictly increasing")
        arrays = {"two_theta": x, "intensity": y}
        if self.sigma is not None:
            s = np.ascontiguousarray(self.sigma, dtype=np.float64)
            if s.shape != x.shape or not np.all(np.isfinite(s)) or np.any(s < 0):
                raise PatternReadError(
                    self.source, "σ must be finite, >= 0 and one per point"
                )
            arrays["sigma"] = s
        if self.wavelength is not None and not 0 < float(self.wavelength) < 100:
            raise PatternReadError(self.source, f"wavelength {self.wavelength!r} Å is not usable")
        if self.format not in FORMATS:
            raise PatternReadError(self.source, f"format {self.format!r} not in {FORMATS}")
        for name, value in arrays.items():
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.wavelength is not None:
            object.__setattr__(self, "wavelength", float(self.wavelength))

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists), inverse of :meth:`from_dict`."""
        out = dataclasses.asdict(self)
        for key in ("two_theta", "intensity", "sigma"):
            if out[key] is not None:
                out[key] = np.asarray(out[key]).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasuredPattern:
        """Rebuild a pattern from :meth:`to_dict` output."""
        return cls(**data)


def read_pattern(
    path: str | Path, *, wavelength: float | str | None = None, fmt: str | None = None
) -> MeasuredPattern:
    """Read one measured pattern.

    Args:
        path: the file; its suffix picks the reader unless ``fmt`` is given.
        wavelength: Å or a preset name (``"CuKa1"``). Required when the file states no
            wavelength; when the file states one, the user's value wins, with a
            warning if they differ by more than :data:`WAVELENGTH_TOL`.
        fmt: force a format, one of :data:`FORMATS`.

    Returns:
        a :class:`MeasuredPattern`; ``metadata["wavelength_source"]`` says where λ came from.

    Raises:
        PatternReadError: unreadable file, no numeric data, non-monotonic 2θ, unknown
            wavelength, ... — the message names the file and the fix.
    """
    path = Path(path)
    src = str(path)
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise PatternReadError(
                src, f"unknown file suffix {path.suffix!r}; known: "
                f"{', '.join(sorted(SUFFIX_FORMATS))}; or pass fmt= one of {FORMATS}",
            )
    elif fmt not in FORMATS:
        raise PatternReadError(src, f"unknown format {fmt!r}; use one of {FORMATS}")
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise PatternReadError(src, f"cannot read the file ({exc.strerror or exc})") from None
    reader = {"xy": _read_columns, "xye": _read_columns, "fullprof": _read_columns,
              "asc": _read_columns,
              "xrdml": _read_xrdml, "chi": _read_chi, "cif": _read_pdcif}[fmt]
    try:
        x, y, s, file_wl, meta = reader(text, src, fmt)
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # malformed numbers / fields
        raise PatternReadError(src, f"cannot parse the file as {fmt!r} ({type(exc).__name__}: "
                               f"{exc}); check the format or pass fmt=") from None
    if fmt == "xy" and meta.get("layout") == "start-step-end":
        fmt = "fullprof"
    x, y, s = _clean_axis(x, y, s, src)
    wl, wl_source = _choose_wavelength(file_wl, wavelength, src)
    meta["wavelength_source"] = wl_source
    if file_wl is not None:
        meta["file_wavelength"] = file_wl
    return MeasuredPattern(x, y, s, wl, src, fmt, meta)


def _choose_wavelength(
    file_wl: float | None, user: float | str | None, src: str
) -> tuple[float, str]:
    if user is None:
        if file_wl is None:
            raise PatternReadError(
                src, "the file states no wavelength; pass it, e.g. read_pattern(path, "
                "wavelength='CuKa1') or 1.5406 (Å), on the command line --wavelength CuKa1",
            )
        return file_wl, "file"
    try:
        wl = resolve_wavelength(user)
    except ConfigError as exc:
        raise PatternReadError(src, str(exc)) from None
    if file_wl is not None and abs(file_wl - wl) > WAVELENGTH_TOL:
        warnings.warn(
            f"{src}: the file states λ = {file_wl:.5f} Å but {wl:.5f} Å was given; using "
            "the given value (drop --wavelength to use the file's)", UserWarning, stacklevel=3,
        )
    return wl, "user"


def _clean_axis(
    x: np.ndarray, y: np.ndarray, s: np.ndarray | None, src: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Apply the module's policies: reverse descending scans, average repeats, refuse the rest."""
    if x.size < 2:
        raise PatternReadError(src, f"found {x.size} data point(s); a pattern needs at least 2")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if s is not None:
        bad |= ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PatternReadError(
            src, f"{int(bad.sum())} point(s) are NaN or infinite (first at data row {i}); "
            "remove or fix those rows",
        )
    step = np.diff(x)
    if np.all(step <= 0) and np.any(step < 0):
        warnings.warn(f"{src}: 2θ decreases through the file; the scan was reversed",
                      UserWarning, stacklevel=4)
        x, y = x[::-1], y[::-1]
        s = None if s is None else s[::-1]
        step = np.diff(x)
    if np.any(step < 0):
        i = int(np.flatnonzero(step < 0)[0])
        raise PatternReadError(
            src, f"2θ is not monotonic: {x[i]:g}° is followed by {x[i + 1]:g}° (data row "
            f"{i + 1}); the file may hold several scans — split them into separate files",
        )
    if np.any(step == 0):
        xu, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        warnings.warn(
            f"{src}: {int(x.size - xu.size)} repeated 2θ value(s); their intensities were "
            "averaged", UserWarning, stacklevel=4,
        )
        y = np.bincount(inverse, weights=y) / counts
        if s is not None:  # σ of a mean of n points: sqrt(Σσ²)/n
            s = np.sqrt(np.bincount(inverse, weights=s * s)) / counts
        x = xu
    if np.any(y < 0):
        warnings.warn(
            f"{src}: {int((y < 0).sum())} negative intensities (min {y.min():g}) kept as "
            "they are (not clipped; --clip-negative clips after background subtraction)",
            UserWarning, stacklevel=4,
        )
    return x, y, s


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
    if step <= 0 or end <= start:
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


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float_text(el: ET.Element | None) -> float | None:
    return None if el is None or el.text is None else float(el.text)


def _read_xrdml(text: str, src: str, fmt: str) -> tuple:
    """PANalytical XRDML (schema 1.x / 2.x): the first scan's 2θ axis and counts."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise PatternReadError(src, f"not well-formed XML ({exc}); is the file complete?") \
            from None
    _strip_ns(root)
    scans = root.findall(".//scan")
    if not scans:
        raise PatternReadError(src, "no <scan> element; not a PANalytical XRDML measurement")
    meta: dict[str, Any] = {"n_scans": len(scans)}
    if len(scans) > 1:
        warnings.warn(f"{src}: {len(scans)} scans in the file; only the first is read",
                      UserWarning, stacklevel=4)
    points = scans[0].find("dataPoints")
    if points is None:
        raise PatternReadError(src, "the scan has no <dataPoints>")
    values_el = points.find("intensities")
    if values_el is None:
        values_el = points.find("counts")
    if values_el is None or not (values_el.text or "").strip():
        raise PatternReadError(src, "the scan has no <intensities> or <counts> values")
    y = np.array(values_el.text.split(), dtype=np.float64)
    meta["intensity_element"] = values_el.tag
    meta["intensity_unit"] = values_el.get("unit")
    atten = points.find("beamAttenuationFactors")
    if atten is not None and (atten.text or "").strip():
        factors = np.array(atten.text.split(), dtype=np.float64)
        if factors.size == y.size:  # XRDML: true intensity = counts · attenuation factor
            y = y * factors
            meta["beam_attenuation_applied"] = True
    axis = next((p for p in points.findall("positions") if p.get("axis") == "2Theta"), None)
    if axis is None:
        raise PatternReadError(src, "no <positions axis=\"2Theta\">; only 2θ scans are read")
    listed = axis.find("listPositions")
    if listed is not None and (listed.text or "").strip():
        x = np.array(listed.text.split(), dtype=np.float64)
        meta["positions"] = "list"
    else:
        start, end = _float_text(axis.find("startPosition")), _float_text(axis.find("endPosition"))
        if start is None or end is None:
            raise PatternReadError(src, "2θ axis has neither start/end nor listPositions")
        x = np.linspace(start, end, y.size)
        meta["positions"] = "start-end"
    if x.size != y.size:
        raise PatternReadError(src, f"{x.size} 2θ positions but {y.size} intensities")
    time_el = points.find("commonCountingTime")
    if time_el is not None:
        meta["counting_time_s"] = _float_text(time_el)
    wl = _xrdml_wavelength(root, meta)
    return x, y, None, wl, meta


def _xrdml_wavelength(root: ET.Element, meta: dict[str, Any]) -> float | None:
    """Effective λ: Kα1 alone, or the ratio-weighted mean (λ1 + r·λ2)/(1 + r) of the doublet."""
    used = root.find(".//usedWavelength")
    if used is None:
        return None
    k1, k2 = _float_text(used.find("kAlpha1")), _float_text(used.find("kAlpha2"))
    ratio, kb = _float_text(used.find("ratioKAlpha2KAlpha1")), _float_text(used.find("kBeta"))
    meta.update(kalpha1=k1, kalpha2=k2, ratio_kalpha2_kalpha1=ratio, kbeta=kb,
                intended=used.get("intended"))
    if k1 is None:
        return None
    if k2 is not None and ratio:
        meta["wavelength_rule"] = "(kAlpha1 + ratio*kAlpha2) / (1 + ratio)"
        return (k1 + ratio * k2) / (1.0 + ratio)
    meta["wavelength_rule"] = "kAlpha1"
    return k1


_SU = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)(?:\((\d+)\))?$")


def _cif_number(token: str) -> tuple[float, float]:
    """'1234.5(12)' -> (1234.5, 1.2); a plain number has σ NaN."""
    match = _SU.match(token.strip())
    if not match:
        raise ValueError(token)
    value_text, su = match.groups()
    value = float(value_text)
    if su is None:
        return value, float("nan")
    decimals = len(value_text.split(".")[1].split("e")[0].split("E")[0]) \
        if "." in value_text else 0
    return value, int(su) * 10.0 ** (-decimals)


def _cif_wavelength(data: dict[str, Any], meta: dict[str, Any]) -> float | None:
    """λ of a pdCIF block; a wavelength loop with weights gives the weighted mean."""
    text = data.get("_diffrn_radiation_wavelength")
    if text is None:
        return None
    texts = text if isinstance(text, list) else [text]
    if any(t in ("?", ".") for t in texts):
        return None
    values = np.array([_cif_number(t)[0] for t in texts])
    weights = data.get("_diffrn_radiation_wavelength_wt")
    w = np.array([_cif_number(t)[0] for t in weights]) if isinstance(weights, list) \
        else np.ones_like(values)
    meta["wavelengths"] = values.tolist()
    if values.size > 1:
        meta["wavelength_rule"] = "weighted mean of _diffrn_radiation_wavelength (_wt)"
    return float(np.sum(values * w) / np.sum(w))


_CIF_X = ("_pd_proc_2theta_corrected", "_pd_meas_2theta_scan", "_pd_meas_angle_2theta")
_CIF_Y = ("_pd_meas_counts_total", "_pd_meas_intensity_total", "_pd_proc_intensity_total")


def _read_pdcif(text: str, src: str, fmt: str) -> tuple:
    """Powder CIF: the first data block with a ``_pd_meas_*`` / ``_pd_proc_*`` intensity loop."""
    from pymatgen.io.cif import CifFile

    try:
        blocks = CifFile.from_str(text).data
    except Exception as exc:  # pymatgen raises assorted errors on broken CIF syntax
        raise PatternReadError(src, f"CIF syntax error ({exc})") from None
    for name, block in blocks.items():
        data = {k.lower(): v for k, v in block.data.items()}
        ytag = next((t for t in _CIF_Y if isinstance(data.get(t), list)), None)
        if ytag is None:
            continue
        try:
            ys = np.array([_cif_number(v) for v in data[ytag]])
            xtag = next((t for t in _CIF_X if isinstance(data.get(t), list)), None)
            if xtag is not None:
                x = np.array([_cif_number(v)[0] for v in data[xtag]])
            else:
                kind = "proc" if "_pd_proc_2theta_range_min" in data else "meas"
                lo, hi, inc = (_cif_number(str(data[f"_pd_{kind}_2theta_range_{k}"]))[0]
                               for k in ("min", "max", "inc"))
                x = lo + inc * np.arange(ys.shape[0])
                xtag = f"_pd_{kind}_2theta_range_min/max/inc"
                if abs(x[-1] - hi) > STEP_REL_TOL * max(abs(hi), 1.0):
                    raise PatternReadError(src, f"2θ range {lo:g}..{hi:g} step {inc:g} does "
                                           f"not match the {ys.shape[0]} intensities")
        except (ValueError, KeyError) as exc:
            raise PatternReadError(
                src, f"block {name!r}: unreadable number or missing 2θ ({exc}); need one of "
                f"{_CIF_X} or _pd_meas_ / _pd_proc_2theta_range_min/max/inc",
            ) from None
        sigma = ys[:, 1] if np.all(np.isfinite(ys[:, 1])) else None
        meta = {"block": name, "x_tag": xtag, "y_tag": ytag}
        wl = _cif_wavelength(data, meta)
        return x, ys[:, 0], sigma, wl, meta
    raise PatternReadError(src, f"no powder intensity loop ({', '.join(_CIF_Y)}) in any "
                           "data block; is this a structure CIF rather than a pdCIF?")
