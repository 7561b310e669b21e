"""Readers for measured powder patterns: columns, PANalytical XRDML, Fit2D .chi, .ASC, pdCIF,
Bruker .raw / .uxd / .brml, Rigaku .ras / .rasx, Philips .udf, GSAS .gsa / .fxye.

Every reader returns a :class:`MeasuredPattern`: 2θ in degrees (float64, strictly
increasing), intensity (float64), σ where the file gives it, and the wavelength in Å
when the file states it. Where the file does not, the caller must state it
(``read_pattern(path, wavelength="CuKa1")``, CLI ``--wavelength CuKa1``).

Policies for imperfect files (documented in ``docs/measured.md``):

- no numeric data, NaN / inf values, a 2θ axis that goes back and forth: refused
  (:class:`~xrdsim.errors.PatternReadError` naming the file and the fix);
- a scan recorded from high to low 2θ: reversed, with a warning;
- repeated 2θ values: the points are averaged (σ combined), with a warning;
- negative intensities: kept unchanged (background-subtracted files have them), with a warning.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, PatternReadError
from xrdsim.files import regular_file_size
from xrdsim.measured.brml import read_brml
from xrdsim.measured.bruker import read_bruker_raw, read_uxd
from xrdsim.measured.columns import STEP_REL_TOL as STEP_REL_TOL
from xrdsim.measured.columns import _read_chi, _read_columns
from xrdsim.measured.formats import _read_pdcif, _read_xrdml
from xrdsim.measured.gsas import read_gsas
from xrdsim.measured.philips import read_udf
from xrdsim.measured.rigaku import read_ras, read_rasx
from xrdsim.wavelengths import resolve_wavelength

#: Format names :func:`read_pattern` accepts for ``fmt``.
FORMATS = ("xy", "xye", "fullprof", "xrdml", "chi", "asc", "cif", "bruker_raw", "uxd",
           "bruker_brml", "gsas", "rigaku_ras", "rigaku_rasx", "philips_udf")
#: The ``format`` of a pattern given as arrays (:func:`pattern_from_arrays`), not a file.
ARRAY_FORMAT = "arrays"
#: File suffix (lower case) -> format guessed from it. ``.dat`` is sniffed between
#: plain columns and FullProf's "start step end" free format.
SUFFIX_FORMATS = {
    ".xy": "xy", ".xye": "xye", ".txt": "xy", ".csv": "xy", ".dat": "xy",
    ".xrdml": "xrdml", ".chi": "chi", ".asc": "asc", ".cif": "cif",
    ".raw": "bruker_raw", ".uxd": "uxd", ".brml": "bruker_brml",
    ".ras": "rigaku_ras", ".rasx": "rigaku_rasx", ".udf": "philips_udf",
    ".gsa": "gsas", ".gss": "gsas", ".gsas": "gsas", ".fxye": "gsas",
}
#: Format -> reader ``(file content, source, format) -> (2θ, I, σ, λ, metadata)``.
_READERS = {"xy": _read_columns, "xye": _read_columns, "fullprof": _read_columns,
            "asc": _read_columns, "xrdml": _read_xrdml, "chi": _read_chi, "cif": _read_pdcif,
            "bruker_raw": read_bruker_raw, "uxd": read_uxd, "bruker_brml": read_brml,
            "gsas": read_gsas, "rigaku_ras": read_ras, "rigaku_rasx": read_rasx,
            "philips_udf": read_udf}
#: Formats whose reader takes the file's bytes (the others take its text).
BINARY_FORMATS = frozenset({"bruker_raw", "bruker_brml", "rigaku_rasx"})
#: Two file and user wavelengths closer than this (Å) are "the same" (no warning).
WAVELENGTH_TOL = 1e-4
#: A pattern file larger than this is refused unread: 4·10⁵ points of '2θ I σ' take ≈ 16 MB,
#: and the column parser holds ≈ 15 bytes of Python objects per byte of text.
MAX_PATTERN_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class MeasuredPattern:
    """One measured powder pattern as read from a file.

    Attributes:
        two_theta: (n,) float64, degrees 2θ, strictly increasing.
        intensity: (n,) float64, counts or arbitrary units as in the file.
        sigma: (n,) float64 standard uncertainties, or None when the file has none.
        wavelength: Å, from the file or the user; None when unknown.
        source: the file path.
        format: one of :data:`FORMATS`, or :data:`ARRAY_FORMAT`.
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
        if self.format not in FORMATS and self.format != ARRAY_FORMAT:
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
    path: str | Path, *, wavelength: float | str | None = None, fmt: str | None = None,
    force_wavelength: bool = False,
) -> MeasuredPattern:
    """Read one measured pattern.

    Args:
        path: the file; its suffix picks the reader unless ``fmt`` is given.
        wavelength: Å or a preset name (``"CuKa1"``). Required when the file states no
            wavelength; when the file states one (``.xrdml``, some ``.chi`` / pdCIF), the
            file's value wins, with a warning if they differ by more than
            :data:`WAVELENGTH_TOL`, unless ``force_wavelength``.
        fmt: force a format, one of :data:`FORMATS`.
        force_wavelength: use ``wavelength`` even where the file states another one
            (CLI ``--force-wavelength``; warned when they differ).

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
    raw = read_limited_bytes(path)
    content = raw if fmt in BINARY_FORMATS else raw.decode("utf-8-sig", errors="replace")
    try:
        x, y, s, file_wl, meta = _READERS[fmt](content, src, fmt)
    except PatternReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file provokes is this file's error
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise PatternReadError(src, f"cannot parse the file as {fmt!r} ({type(exc).__name__}: "
                               f"{reason}); check the format or pass fmt=") from None
    if fmt == "xy" and meta.get("layout") == "start-step-end":
        fmt = "fullprof"
    x, y, s = _clean_axis(x, y, s, src)
    if file_wl is None and wavelength is None and meta.get("wavelength_problem"):
        raise PatternReadError(src, f"{meta['wavelength_problem']}; fix the file or pass "
                               "wavelength= (CLI --wavelength)")
    wl, wl_source = _choose_wavelength(file_wl, wavelength, src, force=force_wavelength)
    meta["wavelength_source"] = wl_source
    if file_wl is not None:
        meta["file_wavelength"] = file_wl
    return MeasuredPattern(x, y, s, wl, src, fmt, meta)


def pattern_from_arrays(
    two_theta: Any, intensity: Any, *, wavelength: float | str, source: str = "arrays",
) -> MeasuredPattern:
    """A measured pattern given as two arrays, under the same policies as a file's columns
    (:func:`read_pattern`): a descending scan is reversed, repeated 2θ values are averaged,
    NaN / infinite points are refused, negative intensities are kept with a warning.

    Args:
        two_theta: (n,) degrees 2θ.
        intensity: (n,) counts or arbitrary units.
        wavelength: Å or a preset name (``"CuKa"``); arrays carry none of their own.
        source: the name error messages give the pattern.

    Raises:
        PatternReadError: not two 1-D numeric arrays of equal length ≥ 2, non-finite or
            non-monotonic 2θ, an unknown wavelength.
    """
    try:
        x = np.asarray(two_theta, dtype=np.float64)
        y = np.asarray(intensity, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PatternReadError(source, f"2θ and intensity must be numeric arrays ({exc})"
                               ) from None
    if x.ndim != 1 or x.shape != y.shape:
        raise PatternReadError(source, f"need two 1-D arrays of equal length, got shapes "
                               f"{x.shape} and {y.shape}")
    x, y, _ = _clean_axis(x, y, None, source)
    try:
        wl = resolve_wavelength(wavelength)
    except ConfigError as exc:
        raise PatternReadError(source, str(exc)) from None
    return MeasuredPattern(x, y, None, wl, source, ARRAY_FORMAT, {"wavelength_source": "user"})


def read_limited_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_PATTERN_BYTES` bytes.

    Devices (``/dev/zero``), FIFOs and sockets are refused before they are opened — reading
    them would never end or block forever — and so is a file too big to be one pattern.
    """
    src = str(path)
    regular_file_size(path, limit=MAX_PATTERN_BYTES, error=PatternReadError,
                      irregular_fix=" (a device, FIFO or socket); copy the data into a file",
                      too_big="one powder pattern may have; split or reduce the file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PATTERN_BYTES + 1)
    except OSError as exc:
        raise PatternReadError(src, f"cannot read the file ({exc.strerror or exc})") from None
    if len(raw) > MAX_PATTERN_BYTES:
        raise PatternReadError(src, f"grew beyond {MAX_PATTERN_BYTES} bytes while read")
    return raw


def _choose_wavelength(
    file_wl: float | None, user: float | str | None, src: str, *, force: bool
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
    if file_wl is None:
        return wl, "user"
    if abs(file_wl - wl) > WAVELENGTH_TOL:
        used, other = (
            "the given value", "the file's: drop force_wavelength=True / --force-wavelength"
        ) if force else (
            "the file's value", "the given one: pass force_wavelength=True / --force-wavelength")
        warnings.warn(
            f"{src}: the file states λ = {file_wl:.5f} Å but {wl:.5f} Å was given; using "
            f"{used} (to use {other})", UserWarning, stacklevel=3,
        )
    return (wl, "user") if force else (file_wl, "file")


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
            "they are (not clipped; prepare_pattern(clip_negative=True), CLI prepare "
            "--clip-negative, clips them after background subtraction)",
            UserWarning, stacklevel=4,
        )
    return x, y, s
