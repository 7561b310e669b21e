"""X-ray wavelengths: named presets and parsing of user input.

Values in Å. Kα is the intensity-weighted mean (2·Kα1 + Kα2)/3 as used by the
International Tables and by pymatgen's ``WAVELENGTHS`` table; Kα1/Kα2/Kβ1 are the
tabulated line energies (Bearden, Rev. Mod. Phys. 39, 78 (1967); Hölzer et al.,
Phys. Rev. A 56, 4554 (1997)). The default, 1.5418 Å, is the Cu Kα value of das2025.
"""

from __future__ import annotations

from xrdsim.errors import ConfigError, PeakInputError

#: Cu Kα, the wavelength of the das2025 pipeline (Å).
DEFAULT_WAVELENGTH = 1.5418

#: Named wavelengths in Å (case-insensitive lookup, see :func:`resolve_wavelength`).
WAVELENGTHS: dict[str, float] = {
    "CuKa": 1.54184,
    "CuKa2": 1.54439,
    "CuKa1": 1.54056,
    "CuKb1": 1.39222,
    "MoKa": 0.71073,
    "MoKa2": 0.71359,
    "MoKa1": 0.70930,
    "MoKb1": 0.63229,
    "CrKa": 2.29100,
    "CrKa2": 2.29361,
    "CrKa1": 2.28970,
    "CrKb1": 2.08487,
    "FeKa": 1.93735,
    "FeKa2": 1.93998,
    "FeKa1": 1.93604,
    "FeKb1": 1.75661,
    "CoKa": 1.79026,
    "CoKa2": 1.79285,
    "CoKa1": 1.78896,
    "CoKb1": 1.63079,
    "AgKa": 0.560885,
    "AgKa2": 0.563813,
    "AgKa1": 0.559421,
    "AgKb1": 0.497082,
}

#: Kα1/Kα2 pairs (Å) used by the simulator's doublet option, keyed by anode.
KALPHA_DOUBLETS: dict[str, tuple[float, float]] = {
    anode: (WAVELENGTHS[f"{anode}Ka1"], WAVELENGTHS[f"{anode}Ka2"])
    for anode in ("Cu", "Mo", "Cr", "Fe", "Co", "Ag")
}

#: Kβ1 wavelength (Å) of each anode, for the simulator's tube-line contamination.
KBETA: dict[str, float] = {anode: WAVELENGTHS[f"{anode}Kb1"] for anode in KALPHA_DOUBLETS}
#: W Lα1 (Å; Bearden 8.3976 keV): tungsten from the cathode deposited on an aged anode.
TUNGSTEN_LALPHA1 = 1.47642

#: Kα2/Kα1 intensity ratio of an unresolved doublet when a file gives none: 1/2, the ratio of
#: the weights of the International Tables' Kα = (2·Kα1 + Kα2)/3 (1.5418 Å for Cu).
DEFAULT_KALPHA2_RATIO = 0.5


def kalpha_mean(kalpha1: float, kalpha2: float, ratio: float | None) -> tuple[float, str]:
    """Effective λ (Å) of an unresolved Kα1/Kα2 doublet and the rule that gave it.

    ``(λ1 + r·λ2) / (1 + r)`` with the file's Kα2/Kα1 ratio ``r``, or, when the file gives
    none (``ratio`` None), :data:`DEFAULT_KALPHA2_RATIO` — never the unweighted mean, which
    is 0.0007 Å long for Cu (1.542475 against 1.54184).
    """
    if ratio is None:
        r, rule = DEFAULT_KALPHA2_RATIO, "(kalpha1 + 0.5*kalpha2)/1.5 (standard 2:1 weights; " \
            "the file gives no ratio)"
    else:
        r, rule = float(ratio), f"(kalpha1 + r*kalpha2)/(1 + r), r = {float(ratio):g} from the file"
    return (kalpha1 + r * kalpha2) / (1.0 + r), rule


_LOWER = {name.lower(): value for name, value in WAVELENGTHS.items()}


def resolve_wavelength(value: float | str) -> float:
    """Return a wavelength in Å from a number or a preset name.

    Args:
        value: a positive number in Å (``1.5418``, ``"0.7093"``) or a preset name
            (``"CuKa"``, ``"cuka1"``, ``"MoKa1"``; case-insensitive, see :data:`WAVELENGTHS`).

    Raises:
        ConfigError: for an unknown name or a non-positive / non-finite number.
    """
    if isinstance(value, str):
        key = value.strip()
        if key.lower() in _LOWER:
            return _LOWER[key.lower()]
        try:
            number = float(key)
        except ValueError:
            names = ", ".join(WAVELENGTHS)
            raise ConfigError(
                f"unknown wavelength {value!r}: give a number in Å or one of {names}"
            ) from None
    else:
        number = float(value)
    if not (number > 0.0 and number < 100.0):
        raise ConfigError(f"wavelength must be a positive number of Å below 100, got {value!r}")
    return number


#: Å; a peak list and a simulation config agree on the wavelength when closer than this.
#: The preset ``CuKa`` (1.54184 Å) and the das2025 default 1.5418 Å differ by 4e-5 Å and
#: name the same line; at 2θ = 120° a difference of 1e-4 Å moves a peak by
#: 2·tanθ·Δλ/λ ≈ 0.013° (about one 0.01° bin), less at lower angles.
WAVELENGTH_TOL = 1e-4


def check_peak_wavelength(peaks_wavelength: float, config_wavelength: float, *,
                          source: str) -> None:
    """The one wavelength rule of ``simulate``, ``build`` and ``train``: peaks computed at
    another λ than the config renders (beyond :data:`WAVELENGTH_TOL`) are refused.

    Args:
        peaks_wavelength: Å the peaks were computed at (peak list or database).
        config_wavelength: Å the simulation config expects.
        source: what holds the peaks, for the message (``"peak database peaks.h5"``).

    Raises:
        PeakInputError: naming both wavelengths and the two fixes.
    """
    a, b = float(peaks_wavelength), float(config_wavelength)
    if abs(a - b) > WAVELENGTH_TOL:
        raise PeakInputError(
            f"{source} was computed at λ = {a:g} Å but the config renders peaks at {b:g} Å "
            f"(they may differ by at most {WAVELENGTH_TOL:g} Å); recompute the peaks with "
            f"`xrdsim peaks --wavelength {b:g}` or set `wavelength: {a:g}` in the config")
