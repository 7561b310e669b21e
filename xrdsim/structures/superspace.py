"""Refusal of modulated (superspace) CIFs, which pymatgen would read as their basic structure.

An incommensurately modulated or composite structure is described in (3+d)-dimensional
superspace: ``_cell_modulation_dimension`` > 0, ``_space_group_ssg_*`` (or the older
``_symmetry_ssg_*``) tags, ``_cell_wave_vector_*`` and ``_atom_site_fourier_wave_vector_*``
loops. Reading only the average (basic) cell gives the wrong pattern — every satellite
reflection is missing — so such blocks are refused.
"""

from __future__ import annotations

_PREFIXES = ("_space_group_ssg_", "_symmetry_ssg_", "_cell_wave_vector_",
             "_atom_site_fourier_wave_vector_", "_atom_site_displace_fourier_")


def check_not_modulated(block: dict) -> None:
    """Raise ValueError when a CIF block (lower-case tags) describes a modulated structure."""
    dimension = block.get("_cell_modulation_dimension")
    tags = sorted(k for k in block if k.startswith(_PREFIXES))
    modulated = False
    if dimension is not None:
        try:
            modulated = int(str(dimension).strip()) > 0
        except ValueError:
            modulated = str(dimension).strip() not in ("?", ".")
    if modulated or tags:
        found = ([f"_cell_modulation_dimension = {dimension}"] if modulated else []) + tags[:3]
        raise ValueError(
            "modulated (superspace) structure: the CIF gives " + ", ".join(found) + "; only "
            "its basic cell would be read and every satellite reflection would be missing. "
            "Give a commensurate supercell approximant instead"
        )
