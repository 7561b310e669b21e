"""Oxidation states from ``_atom_site_type_symbol`` (issue 31, item 17), on a real CIF."""

from __future__ import annotations

import numpy as np
import pytest

from xrdsim.peaks.lines import compute_peaks
from xrdsim.structures.oxidation import type_symbol_charge
from xrdsim.structures.reader import read_structures

CIF = "cifs/autoxrd_pdf_examples/Li4Zr3O8_141.cif"  # ICSD-style: Li1+ Zr4+ O2- + type loop
TYPE_LOOP = ("loop_\n_atom_type_symbol\n_atom_type_oxidation_number\nLi1+ 1\nZr4+ 4\n"
             "O2- -2\n")


def _read(path):
    (record,) = list(read_structures([path]))
    return record.structure


def _species(structure):
    return sorted({str(sp) for site in structure for sp in site.species})


@pytest.mark.parametrize(("symbol", "parsed"), [
    ("Ba+2", ("Ba", 2)), ("Ti+4", ("Ti", 4)), ("O-2", ("O", -2)), ("Ba2+", ("Ba", 2)),
    ("O2-", ("O", -2)), ("Li+", ("Li", 1)), ("Cl-", ("Cl", -1)), ("Ba", None), ("OW", None),
    ("Fe2+3", None)])
def test_item31_17_type_symbol_charges(symbol, parsed):
    assert type_symbol_charge(symbol) == parsed


def test_item31_17_gsas_style_type_symbols_give_ions_and_the_ionic_peaks(shared_data, tmp_path):
    text = (shared_data / CIF).read_text()
    assert TYPE_LOOP in text
    as_written = _read(shared_data / CIF)
    gsas = tmp_path / "gsas_style.cif"  # as GSAS-II / FullProf write it: no type loop
    gsas.write_text(text.replace(TYPE_LOOP, "").replace(" Li1+ ", " Li+1 ")
                    .replace(" Zr4+ ", " Zr+4 ").replace(" O2- ", " O-2 "))
    neutral = tmp_path / "neutral.cif"
    neutral.write_text(text.replace(TYPE_LOOP, "").replace(" Li1+ ", " Li ")
                       .replace(" Zr4+ ", " Zr ").replace(" O2- ", " O "))
    ions = _read(gsas)
    assert _species(ions) == _species(as_written) == ["Li+", "O2-", "Zr4+"]
    assert _species(_read(neutral)) == ["Li", "O", "Zr"]
    p_written, p_ions, p_neutral = (compute_peaks(s, wavelength="CuKa", ionic=True)
                                    for s in (as_written, ions, _read(neutral)))
    np.testing.assert_allclose(p_ions.intensity, p_written.intensity, rtol=1e-12)
    # O2- against O changes the low-angle lines by percents: ionic=True now acts on the file
    assert np.max(np.abs(p_ions.intensity - p_neutral.intensity)) > 1.0
