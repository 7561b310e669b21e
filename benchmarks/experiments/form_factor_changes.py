"""What the scattering model changes, per element and per structure (numbers for docs/peaks.md).

Run from the repository root:

    .venv/bin/python benchmarks/experiments/form_factor_changes.py

Writes ``benchmarks/results/form_factor_changes.json`` and prints two Markdown tables:

1. per element: f0 of pymatgen's table minus Waasmaier–Kirfel's at s = sinθ/λ = 0.25, 0.5,
   1.0, 1.5 Å⁻¹ (electrons, and the largest relative difference for s ≤ 1.5), and Chantler's
   f′, f″ at Cu Kα1 and Mo Kα1;
2. per structure (hand-built from textbook cells): the largest change of a line on the 0–100
   scale at Cu Kα1, 2θ 0–120°, going from pymatgen's conventions to Waasmaier–Kirfel f0,
   then adding f′/f″, then ionic f0 (species with oxidation states), and the largest
   relative change of a line above 5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Species, Structure

from xrdsim.files import write_json
from xrdsim.peaks.form_factors import anomalous_terms, f0
from xrdsim.peaks.lines import compute_peaks
from xrdsim.wavelengths import WAVELENGTHS

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results" / "form_factor_changes.json"
S_VALUES = (0.25, 0.5, 1.0, 1.5)
ELEMENTS = ("O", "Mg", "Si", "Fe", "Cu", "Sn", "I", "Ba", "La", "Eu", "Gd", "Er", "Tm", "Yb",
            "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Pb", "Bi", "U")


def _structures() -> dict[str, Structure]:
    return {
        "NaCl": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"],
                                          [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "Mg2Sn": Structure.from_spacegroup("Fm-3m", Lattice.cubic(6.765), ["Sn", "Mg"],
                                           [[0, 0, 0], [0.25, 0.25, 0.25]]),
        "EuO": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.144), ["Eu", "O"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "GaAs": Structure.from_spacegroup("F-43m", Lattice.cubic(5.6533), ["Ga", "As"],
                                          [[0, 0, 0], [0.25, 0.25, 0.25]]),
        "BaTiO3 (Ba2+ Ti4+ O2-)": Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(4.0), [Species("Ba", 2), Species("Ti", 4), Species("O", -2)],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
        "W": Structure.from_spacegroup("Im-3m", Lattice.cubic(3.1652), ["W"], [[0, 0, 0]]),
    }


def _max_change(a, b) -> float:
    """Largest |ΔI| on the 0–100 scale between lines at the same 2θ (1e-6°)."""
    ia = dict(zip(np.round(a.two_theta, 6), a.intensity, strict=True))
    ib = dict(zip(np.round(b.two_theta, 6), b.intensity, strict=True))
    return float(max(abs(ia.get(t, 0.0) - ib.get(t, 0.0)) for t in set(ia) | set(ib)))


def _max_relative(a, b) -> float:
    """Largest |I_b/I_a − 1| in % over the lines of a above 5 (0–100 scale)."""
    ib = dict(zip(np.round(b.two_theta, 6), b.intensity, strict=True))
    return float(max(abs(ib.get(t, 0.0) / i - 1) * 100
                     for t, i in zip(np.round(a.two_theta, 6), a.intensity, strict=True)
                     if i > 5))


def main() -> None:
    s = np.array(S_VALUES)
    elements = {}
    for el in ELEMENTS:
        pm, wk = f0(el, s, table="pymatgen"), f0(el, s)
        dense = np.linspace(0.05, 1.5, 146)
        rel = (f0(el, dense, table="pymatgen") - f0(el, dense)) / f0(el, dense)
        k = int(np.argmax(np.abs(rel)))
        elements[el] = {
            "pymatgen_minus_wk": [round(float(v), 2) for v in pm - wk],
            "max_relative": round(float(rel[k]) * 100, 1),
            "at_s": round(float(dense[k]), 2),
            "cu_ka1": [round(v, 2) for v in anomalous_terms(el, WAVELENGTHS["CuKa1"])],
            "mo_ka1": [round(v, 2) for v in anomalous_terms(el, WAVELENGTHS["MoKa1"])],
        }
    lam = WAVELENGTHS["CuKa1"]
    structures = {}
    for name, st in _structures().items():
        pm = compute_peaks(st, wavelength=lam, form_factors="pymatgen", anomalous=False)
        wk = compute_peaks(st, wavelength=lam, anomalous=False, ionic=False)
        an = compute_peaks(st, wavelength=lam, ionic=False)
        io = compute_peaks(st, wavelength=lam)
        structures[name] = {"wk_f0": round(_max_change(pm, wk), 2),
                            "plus_anomalous": round(_max_change(wk, an), 2),
                            "plus_ions": round(_max_change(an, io), 2),
                            "total": round(_max_change(pm, io), 2),
                            "total_relative_pct": round(_max_relative(pm, io), 1)}
    write_json(RESULTS, {"elements": elements, "structures": structures}, indent=1)
    print("| element | pymatgen − WK f0 at s = " + " / ".join(map(str, S_VALUES))
          + " Å⁻¹ (e) | largest relative (at s) | f′, f″ Cu Kα1 | f′, f″ Mo Kα1 |")
    print("|---|---|---|---|---|")
    for el, r in elements.items():
        print(f"| {el} | {' / '.join(f'{v:+.2f}' for v in r['pymatgen_minus_wk'])} | "
              f"{r['max_relative']:+.1f} % ({r['at_s']}) | {r['cu_ka1'][0]:+.2f}, "
              f"{r['cu_ka1'][1]:.2f} | {r['mo_ka1'][0]:+.2f}, {r['mo_ka1'][1]:.2f} |")
    print()
    print("| structure | WK f0 | + f′/f″ | + ions | total | total, relative (lines > 5) |")
    print("|---|---|---|---|---|---|")
    for name, r in structures.items():
        print(f"| {name} | {r['wk_f0']} | {r['plus_anomalous']} | {r['plus_ions']} | "
              f"{r['total']} | {r['total_relative_pct']} % |")


if __name__ == "__main__":
    main()
