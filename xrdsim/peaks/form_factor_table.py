"""Regenerate ``xrdsim/data/form_factors.json.gz`` from xraydb (run: ``python -m
xrdsim.peaks.form_factor_table``; needs the ``tables`` extra, ``pip install xraydb``).

The file holds two tables, both read from xraydb's database (public domain), never typed
by hand:

- ``f0``: Waasmaier & Kirfel, Acta Cryst. A51, 416–431 (1995), 5 Gaussians and a
  constant per neutral atom or ion (H … Cf, 209 entries; the valence-density entries
  ``Cval`` and ``Siva`` are left out): ``f0(s) = c + Σ_{i=1..5} aᵢ·exp(−bᵢ·s²)``,
  s = sinθ/λ in Å⁻¹, valid to s = 6 Å⁻¹. Stored per key as ``[a1..a5, b1..b5, c]``.
- ``anomalous``: Chantler, J. Phys. Chem. Ref. Data 29, 597 (2000) (NIST FFAST), f′ and
  f″ in electrons on Chantler's energy grid for H … U, cut to :data:`ENERGY_RANGE_EV`
  plus :data:`GRID_MARGIN` points each side so that the interpolation of
  :mod:`xrdsim.peaks.form_factors` sees the same neighbours as xraydb's own.

The shipped file is written with ``mtime=0`` so regenerating it from the same xraydb
version gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

#: Photon energies the anomalous table covers, eV: λ from 3.1 Å (4 keV, beyond Cr Kα at
#: 5.4 keV) down to 0.062 Å (200 keV, high-energy synchrotron).
ENERGY_RANGE_EV = (4000.0, 200000.0)
#: Chantler grid points kept beyond each end of the range (xraydb's interpolation looks
#: 3 points to each side of the wanted energy).
GRID_MARGIN = 5
#: Waasmaier–Kirfel entries that are not free atoms or ions (valence-density fits).
SKIPPED_F0 = ("Cval", "Siva")
#: Significant digits written for f′ and f″ (Chantler's tables give 5–7).
DIGITS = 8

TABLE_PATH = Path(__file__).resolve().parents[1] / "data" / "form_factors.json.gz"


def build_table() -> dict:
    """The table as a dict (keys ``source``, ``f0``, ``anomalous``) from the installed xraydb."""
    import numpy as np
    import xraydb

    db = xraydb.get_xraydb()
    f0 = {}
    for row in db.get_cache("Waasmaier"):
        if row.ion in SKIPPED_F0:
            continue
        f0[str(row.ion)] = (
            [float(v) for v in json.loads(row.scale)]
            + [float(v) for v in json.loads(row.exponents)]
            + [float(row.offset)]
        )
    anomalous = {}
    for z in range(1, 93):
        symbol = db.symbol(z)
        row = db.get_cache("Chantler", column="element", value=symbol)[0]
        energy = np.array(json.loads(row.energy))
        lo = max(0, int(np.searchsorted(energy, ENERGY_RANGE_EV[0])) - GRID_MARGIN)
        hi = min(energy.size, int(np.searchsorted(energy, ENERGY_RANGE_EV[1])) + GRID_MARGIN)
        anomalous[symbol] = {
            "energy_ev": [float(f"{v:.{DIGITS}g}") for v in energy[lo:hi]],
            "f1": [float(f"{v:.{DIGITS}g}") for v in json.loads(row.f1)[lo:hi]],
            "f2": [float(f"{v:.{DIGITS}g}") for v in json.loads(row.f2)[lo:hi]],
        }
    return {
        "source": {
            "f0": "Waasmaier & Kirfel, Acta Cryst. A51, 416 (1995): [a1..a5, b1..b5, c], "
            "f0(s) = c + sum a_i exp(-b_i s^2), s = sin(theta)/lambda in 1/Angstrom",
            "anomalous": "Chantler, J. Phys. Chem. Ref. Data 29, 597 (2000): f1 = f', "
            "f2 = f'' in electrons vs photon energy in eV",
            "generator": "python -m xrdsim.peaks.form_factor_table",
            "xraydb": f"{xraydb.__version__} ({db.get_version().splitlines()[0]})",
            "energy_range_ev": list(ENERGY_RANGE_EV),
        },
        "f0": f0,
        "anomalous": anomalous,
    }


def table_bytes(table: dict) -> bytes:
    """gzip (mtime 0) of the table's JSON, keys sorted: the exact bytes of the shipped file."""
    text = json.dumps(table, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main() -> None:
    """Write :data:`TABLE_PATH` from the installed xraydb."""
    data = table_bytes(build_table())
    TABLE_PATH.write_bytes(data)
    print(f"wrote {TABLE_PATH} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
