"""Structured-format readers of measured patterns: PANalytical XRDML and powder CIF (pdCIF).

Each reader takes the file text and returns ``(two_theta, intensity, sigma or None,
file wavelength Å or None, metadata)`` for :func:`xrdsim.measured.readers.read_pattern`, which
cleans the axis and builds the :class:`~xrdsim.measured.readers.MeasuredPattern`.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from xrdsim.errors import PatternReadError
from xrdsim.measured.columns import STEP_REL_TOL


def strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float_text(el: ET.Element | None) -> float | None:
    return None if el is None or el.text is None else float(el.text)


def _read_xrdml(text: str, src: str, fmt: str) -> tuple:
    """PANalytical XRDML (schema 1.x / 2.x): the first scan's 2θ axis and counts."""
    root = parse_xml(text, src)
    strip_ns(root)
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
        _check_xrdml_range(start, end, src, meta)
        x = np.linspace(start, end, y.size)
        meta["positions"] = "start-end"
    if x.size != y.size:
        raise PatternReadError(src, f"{x.size} 2θ positions but {y.size} intensities")
    time_el = points.find("commonCountingTime")
    if time_el is not None:
        meta["counting_time_s"] = _float_text(time_el)
    wl = _xrdml_wavelength(root, meta)
    return x, y, None, wl, meta


#: X-ray tube lines lie between Ag Kβ (0.50 Å) and Cr Kα2 (2.29 Å); synchrotrons go lower.
XRDML_WAVELENGTH_RANGE = (0.1, 5.0)


def parse_xml(content: str | bytes, src: str, what: str = "the XML") -> ET.Element:
    """Parse with defusedxml: entities, external references and DTDs are refused whatever
    expat version Python links (billion laughs, file and network reads). ``what`` names the
    document in messages (a member of a zip container, e.g. ``"Experiment0/RawData0.xml"``)."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    raw = content.encode("utf-8") if isinstance(content, str) else content
    try:
        return DET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PatternReadError(src, f"{what} declares a DTD or entities ({type(exc).__name__});"
                               " instrument files have none — refused") from None
    except ET.ParseError as exc:
        raise PatternReadError(src, f"{what} is not well-formed XML ({exc}); is the file "
                               "complete?") from None


def _check_xrdml_range(start: float, end: float, src: str, meta: dict[str, Any]) -> None:
    """startPosition/endPosition: finite and distinct; an end below the start is flagged."""
    if not (np.isfinite(start) and np.isfinite(end)) or start == end:
        raise PatternReadError(src, f"2θ axis from {start:g} to {end:g}: need two different "
                               "finite positions")
    if end < start:
        meta["axis_reversed"] = True
        warnings.warn(f"{src}: endPosition {end:g}° < startPosition {start:g}°; the counts "
                      "were taken as recorded from start to end and the axis reversed — check "
                      "the file if this scan did not run downwards", UserWarning, stacklevel=5)


def _wavelength_problem(k1: float, k2: float | None, ratio: float | None) -> str:
    """Why a file's λ is unusable (Kα outside :data:`XRDML_WAVELENGTH_RANGE`, a ratio
    outside [0, 1]), or ``""``."""
    lo, hi = XRDML_WAVELENGTH_RANGE
    used_k2 = None if ratio == 0 else k2  # a Kα2 of 0 with ratio 0 is a monochromatic beam
    for name, value in (("kAlpha1", k1), ("kAlpha2", used_k2)):
        if value is not None and not lo <= value <= hi:
            return f"{name} = {value:g} Å lies outside {lo}–{hi} Å"
    if ratio is not None and not 0.0 <= ratio <= 1.0:
        return f"the Kα2/Kα1 ratio {ratio:g} lies outside [0, 1]"
    return ""


def doublet_wavelength(k1: float | None, k2: float | None, ratio: float | None,
                       meta: dict[str, Any]) -> float | None:
    """Effective λ of a file's Kα1 / Kα2 / ratio fields: Kα1 alone (no Kα2, or ratio 0), else
    :func:`xrdsim.wavelengths.kalpha_mean` (the file's ratio, or 2:1 when it gives none).
    The fields and the rule go into ``meta``; an unusable value sets
    ``meta["wavelength_problem"]`` and gives None (``read_pattern`` then asks for
    ``--wavelength``)."""
    from xrdsim.wavelengths import kalpha_mean

    meta.update(kalpha1=k1, kalpha2=k2, ratio_kalpha2_kalpha1=ratio)
    if k1 is None:
        return None
    problem = _wavelength_problem(k1, k2, ratio)
    if problem:
        meta["wavelength_problem"] = problem
        return None
    if not k2 or ratio == 0:
        meta["wavelength_rule"] = "kalpha1 alone"
        return k1
    wl, meta["wavelength_rule"] = kalpha_mean(k1, k2, ratio)
    return wl


def _xrdml_wavelength(root: ET.Element, meta: dict[str, Any]) -> float | None:
    """Effective λ of ``<usedWavelength>``: :func:`doublet_wavelength` of its fields."""
    used = root.find(".//usedWavelength")
    if used is None:
        return None
    meta.update(kbeta=_float_text(used.find("kBeta")), intended=used.get("intended"))
    return doublet_wavelength(_float_text(used.find("kAlpha1")),
                              _float_text(used.find("kAlpha2")),
                              _float_text(used.find("ratioKAlpha2KAlpha1")), meta)


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


#: Wavelength tags of a pdCIF block, in order of preference.
_CIF_WAVELENGTH = ("_diffrn_radiation_wavelength", "_pd_proc_wavelength")


def _block_wavelength(data: dict[str, Any], meta: dict[str, Any], src: str) -> float | None:
    """λ of one pdCIF block, or None.

    A wavelength loop with ``_diffrn_radiation_wavelength_wt`` gives the weighted mean
    ``Σ wᵢλᵢ / Σ wᵢ`` (a Kα1/Kα2 pair with weights 1 and r: ``(λ1 + r·λ2)/(1 + r)``, the ratio
    r as the file gives it, recorded in the metadata as ``kalpha2_kalpha1_ratio``). Two
    wavelengths without weights are a Kα1/Kα2 pair: the standard 2:1 weighting
    (:func:`xrdsim.wavelengths.kalpha_mean`, 1.5418 Å for Cu), with a warning; more than two
    without weights give the plain mean, and ``wavelength_rule`` says so.
    """
    for tag in _CIF_WAVELENGTH:
        text = data.get(tag)
        if text is None:
            continue
        texts = text if isinstance(text, list) else [text]
        if any(t in ("?", ".") for t in texts):
            continue
        values = np.array([_cif_number(t)[0] for t in texts])
        weights = data.get(f"{tag}_wt")
        if weights is None and values.size == 2:  # Kα1 and Kα2 without a ratio
            from xrdsim.wavelengths import kalpha_mean

            wl, rule = kalpha_mean(float(values.min()), float(values.max()), None)
            meta.update(wavelengths=values.tolist(), wavelength_tag=tag,
                        wavelength_rule=f"{tag}: {rule}")
            warnings.warn(f"{src}: {tag} lists two wavelengths and no {tag}_wt; used the "
                          f"standard 2:1 Kα1:Kα2 weighting, λ = {wl:.6f} Å (add {tag}_wt, or "
                          "pass --wavelength with --force-wavelength)", UserWarning, stacklevel=6)
            return wl
        if weights is not None:
            weights = weights if isinstance(weights, list) else [weights]
            w = np.array([_cif_number(t)[0] for t in weights])
            rule = f"weighted mean of {tag} (weights {tag}_wt)"
        else:
            w = np.ones_like(values)
            rule = f"unweighted mean of {tag} (no {tag}_wt given)"
        if w.shape != values.shape or not np.all(w >= 0) or w.sum() <= 0:
            raise ValueError(f"{tag}_wt {weights!r} does not give one weight >= 0 per "
                             "wavelength")
        meta["wavelengths"] = values.tolist()
        meta["wavelength_tag"] = tag
        if values.size > 1:
            meta["wavelength_rule"] = rule
            meta["wavelength_weights"] = w.tolist()
            if values.size == 2 and weights is not None and w[0] > 0:
                meta["kalpha2_kalpha1_ratio"] = float(w[1] / w[0])
        return float(np.sum(values * w) / np.sum(w))
    return None


def _cif_wavelength(blocks: dict[str, dict[str, Any]], name: str,
                    meta: dict[str, Any], src: str) -> float | None:
    """λ of the profile block ``name``, else of the first other block of the file that has one."""
    for other in [name, *(b for b in blocks if b != name)]:
        wl = _block_wavelength(blocks[other], meta, src)
        if wl is not None:
            if other != name:
                meta["wavelength_block"] = other
            return wl
    return None


_CIF_X = ("_pd_proc_2theta_corrected", "_pd_meas_2theta_scan", "_pd_meas_angle_2theta")
#: Intensity loops, observed before processed before calculated: a Rietveld profile block
#: holds observed and calculated columns side by side, and the observed one is the pattern.
_CIF_Y = ("_pd_meas_counts_total", "_pd_meas_intensity_total", "_pd_proc_intensity_total",
          "_pd_proc_intensity_net", "_pd_calc_intensity_total", "_pd_calc_intensity_net")


def _cif_column(values: list[str], tag: str, block: str, src: str, *,
                with_su: bool = False) -> np.ndarray:
    """(n, 2) values and s.u. of one loop column; ``.`` and ``?`` (missing, unknown) are
    NaN; anything else unreadable is an error naming the column and the row."""
    out = np.full((len(values), 2), np.nan)
    for i, token in enumerate(values):
        if token.strip() in (".", "?"):
            continue
        try:
            out[i] = _cif_number(token)
        except ValueError:
            raise PatternReadError(src, f"block {block!r}: {tag} row {i + 1} is {token!r}, "
                                   "not a number (or '.' / '?' for a missing point)") from None
    if not with_su:
        out[:, 1] = np.nan
    return out


def _cif_range_axis(data: dict[str, Any], n: int, block: str, src: str
                    ) -> tuple[np.ndarray, str]:
    """2θ from ``_pd_meas_`` / ``_pd_proc_2theta_range_min/max/inc`` for ``n`` points."""
    kind = "proc" if "_pd_proc_2theta_range_min" in data else "meas"
    tag = f"_pd_{kind}_2theta_range_min/max/inc"
    try:
        lo, hi, inc = (_cif_number(str(data[f"_pd_{kind}_2theta_range_{k}"]))[0]
                       for k in ("min", "max", "inc"))
    except (KeyError, ValueError):
        raise PatternReadError(src, f"block {block!r}: no 2θ: need a loop of one of "
                               f"{', '.join(_CIF_X)}, or {tag} as numbers") from None
    x = lo + inc * np.arange(n)
    if abs(x[-1] - hi) > STEP_REL_TOL * max(abs(hi), 1.0):
        raise PatternReadError(src, f"2θ range {lo:g}..{hi:g} step {inc:g} does not match "
                               f"the {n} intensities")
    return x, tag


def _read_pdcif(text: str, src: str, fmt: str) -> tuple:
    """Powder CIF: the first data block with a ``_pd_meas_*`` / ``_pd_proc_*`` /
    ``_pd_calc_*`` intensity loop; λ from that block or any other block of the file."""
    from pymatgen.io.cif import CifFile

    try:
        raw_blocks = CifFile.from_str(text).data
    except Exception as exc:  # pymatgen raises assorted errors on broken CIF syntax
        raise PatternReadError(src, f"CIF syntax error ({exc})") from None
    blocks = {name: {k.lower(): v for k, v in block.data.items()}
              for name, block in raw_blocks.items()}
    for name, data in blocks.items():
        ytag = next((t for t in _CIF_Y if isinstance(data.get(t), list)), None)
        if ytag is None:
            continue
        meta = {"block": name, "y_tag": ytag}
        ys = _cif_column(data[ytag], ytag, name, src, with_su=True)
        xtag = next((t for t in _CIF_X if isinstance(data.get(t), list)), None)
        if xtag is not None:
            x = _cif_column(data[xtag], xtag, name, src)[:, 0]
        else:
            x, xtag = _cif_range_axis(data, ys.shape[0], name, src)
        meta["x_tag"] = xtag
        if x.shape[0] != ys.shape[0]:
            raise PatternReadError(src, f"block {name!r}: {x.shape[0]} values of {xtag} but "
                                   f"{ys.shape[0]} of {ytag}")
        missing = np.isnan(x) | np.isnan(ys[:, 0])
        if missing.any():  # '.' / '?' (GSAS writes '.' at excluded points): not measured
            meta["missing_points"] = int(missing.sum())
            warnings.warn(f"{src}: {int(missing.sum())} point(s) with '.' or '?' in {ytag} or "
                          f"{xtag} (excluded or unknown) were left out", UserWarning,
                          stacklevel=4)
            x, ys = x[~missing], ys[~missing]
        try:
            wl = _cif_wavelength(blocks, name, meta, src)
        except ValueError as exc:
            raise PatternReadError(src, f"block {name!r}: unreadable wavelength ({exc})") \
                from None
        sigma = ys[:, 1] if np.all(np.isfinite(ys[:, 1])) else None
        return x, ys[:, 0], sigma, wl, meta
    raise PatternReadError(src, f"no powder intensity loop ({', '.join(_CIF_Y)}) in any "
                           "data block; is this a structure CIF rather than a pdCIF?")
