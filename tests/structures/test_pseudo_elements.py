"""Pseudo-element type symbols OH / Wat / OW / NH4 / NH3 are refused by name (issue 31, item 10).

The decision and its reason are in ``xrdsim.structures.cif_checks.PSEUDO_ELEMENTS``: the H
positions are not in such a file, and read as O the group would lack 1–2 of its electrons.
"""

from __future__ import annotations

import pytest

from xrdsim.errors import StructureError
from xrdsim.structures.reader import read_structures

CIF = "cifs/autoxrd_pdf_examples/LiOH_129.cif"  # real: O1 and H1 sites of a hydroxide


@pytest.mark.parametrize(("symbol", "what"), [("OH", "hydroxyl OH"), ("Wat", "water H2O"),
                                              ("OW", "water oxygen"),
                                              ("NH4", "ammonium NH4"), ("NH3", "ammonium NH4")])
def test_item31_10_pseudo_elements_are_refused_with_the_reason(shared_data, tmp_path, symbol,
                                                               what):
    text = (shared_data / CIF).read_text()
    one_atom = text.replace("O1 O2- 2 c", f"O1 {symbol} 2 c").replace(
        "H1 H1+ 2 c 0 0.5 0.410(1) . 1.\n", "")
    path = tmp_path / "lioh_pseudo.cif"
    path.write_text(one_atom)
    (record,) = list(read_structures([path]))
    assert isinstance(record, StructureError)
    assert f"pseudo-element '{symbol}' ({what}" in record.reason
    assert "H positions are not in the file" in record.reason


def test_item31_10_the_real_file_with_o_and_h_sites_reads(shared_data):
    (record,) = list(read_structures([shared_data / CIF]))
    assert sorted({sp.symbol for site in record.structure for sp in site.species}) == [
        "H", "Li", "O"]
