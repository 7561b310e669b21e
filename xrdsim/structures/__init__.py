"""Structures stage: CIF and CSV sources, symmetry labels, extinction groups, crystal systems.

Data flow: structures -> peaks -> simulation -> dataset; ``measured`` sits beside it.
"""
