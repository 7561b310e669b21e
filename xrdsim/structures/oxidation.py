"""Oxidation states written into ``_atom_site_type_symbol`` (``Ba2+``, ``Ba+2``, ``O-2``).

pymatgen's ``CifParser`` reads oxidation states only from an ``_atom_type_oxidation_number``
loop; GSAS-II, FullProf and many published Rietveld CIFs write the charge into the site's
type symbol instead and have no such loop, so their structures came out neutral and the
ionic form factors (``compute_peaks(..., ionic=True)``) were never used. This module reads
the charge from the type symbols of such a file and sets it on the structure's species.
"""

from __future__ import annotations

import re

from pymatgen.core import Species, Structure

#: ``Ba2+`` / ``Ba+2`` / ``O-`` / ``O2-``: element, then the charge on either side of its sign.
TYPE_SYMBOL_CHARGE = re.compile(r"^([A-Z][a-z]?)(?:(\d+)([+-])|([+-])(\d*))$")


def type_symbol_charge(symbol: str) -> tuple[str, int] | None:
    """``(element, charge)`` of a charged type symbol, or None (no charge, or not of the form).

    >>> type_symbol_charge("Ti+4"), type_symbol_charge("O2-"), type_symbol_charge("Li+")
    (('Ti', 4), ('O', -2), ('Li', 1))
    """
    match = TYPE_SYMBOL_CHARGE.match(symbol.strip())
    if match is None:
        return None
    element, before, sign_after, sign_before, after = match.groups()
    sign = sign_after or sign_before
    size = int(before or after or 1)
    return element, size if sign == "+" else -size


def charges_from_type_symbols(structure: Structure, block: dict) -> bool:
    """Set the oxidation states of ``structure`` (in place) from the type symbols of its CIF
    ``block`` when pymatgen set none; True when it did.

    Each species takes the charge its element carries in the type symbols; an element with
    several charges (mixed valence, ``Fe+2`` and ``Fe+3``) takes the charge of the site's
    own label. Nothing changes when any species already has an oxidation state (the file
    has an ``_atom_type_oxidation_number`` loop) or no type symbol carries a charge.
    """
    labels = block.get("_atom_site_label")
    types = block.get("_atom_site_type_symbol")
    if not isinstance(types, list) or any(
            getattr(sp, "oxi_state", None) for site in structure for sp in site.species):
        return False
    labels = labels if isinstance(labels, list) and len(labels) == len(types) else types
    by_label, by_element = {}, {}
    for label, symbol in zip(labels, types, strict=True):
        parsed = type_symbol_charge(symbol)
        if parsed is not None:
            by_label[label] = parsed
            by_element.setdefault(parsed[0], set()).add(parsed[1])
    if not by_label:
        return False
    for i, site in enumerate(structure):
        species = {}
        for sp, occupancy in site.species.items():
            charges = by_element.get(sp.symbol, set())
            own = by_label.get(site.label)
            charge = (next(iter(charges)) if len(charges) == 1
                      else own[1] if own and own[0] == sp.symbol else None)
            species[Species(sp.symbol, charge) if charge is not None else sp] = occupancy
        structure.replace(i, species, properties=site.properties, label=site.label)
    return True
