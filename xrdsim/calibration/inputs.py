"""Reading a calibration's two inputs: the measured file and the CIF of its phase."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdsim.errors import CalibrationError, PatternReadError, StructureError
from xrdsim.measured.readers import read_pattern
from xrdsim.structures.reader import read_structures


def read_known_phase(cif: str | Path, *, measured: str = ""):
    """The one structure of ``cif`` (pymatgen ``Structure``).

    Raises:
        CalibrationError: the CIF is missing, unreadable, or holds no / several structures.
    """
    path = Path(cif)
    if not path.is_file():
        raise CalibrationError(str(path), "CIF not found; pass the known phase of "
                               f"{measured or 'the measured file'} as cif= (CLI --cif PHASE.cif)")
    records = list(read_structures([str(path)]))
    if not records:
        raise CalibrationError(str(path), "no structure in the CIF; pass a structure CIF")
    if isinstance(records[0], StructureError):
        raise CalibrationError(str(path), f"cannot read the structure: {records[0].reason}")
    if len(records) > 1:
        raise CalibrationError(str(path), f"{len(records)} structures in the CIF; calibration "
                               "needs the one phase of the sample: split the file")
    return records[0].structure


#: Largest intensity a calibration scan may hold: detector counts per step stay far below
#: 10¹² (a file scaled by 1e300 overflowed the fit into a scale of −4.5e299).
MAX_COUNTS = 1e12


def read_measured(path: str | Path, *, wavelength: float | str | None = None):
    """The measured pattern, as :func:`xrdsim.measured.readers.read_pattern`.

    Raises:
        CalibrationError: the file cannot be read or states no wavelength (the message of
            the reader, which names the fix).
    """
    try:
        pattern = read_pattern(path, wavelength=wavelength)
    except PatternReadError as exc:
        raise CalibrationError(exc.source, exc.reason) from None
    y = np.asarray(pattern.intensity, dtype=np.float64)
    top = float(np.max(y)) if y.size else 0.0
    if not np.isfinite(y).all() or not 0.0 < top <= MAX_COUNTS:
        raise CalibrationError(str(path), f"intensities must be finite counts with a positive "
                               f"maximum of at most {MAX_COUNTS:g}, got a maximum of {top:.3g}; "
                               "calibration fits counts — pass the raw scan")
    return pattern
