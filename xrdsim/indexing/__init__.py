"""Powder indexing: the lines of a measured scan → unit cells, crystal system, Bravais lattice.

Sits beside the measured patterns (it reads them with :mod:`xrdsim.measured`). Lines are
found and fitted (:mod:`.lines`), cells are searched by successive dichotomy as in DICVOL
(:mod:`.dichotomy_kernel`, :mod:`.tiles`, :mod:`.search`), refined by least squares on
Q = 1/d² with the zero shift (:mod:`.refine`), given a centring from their absences
(:mod:`.bravais`) and ranked by de Wolff's M20 and Smith & Snyder's F_N (:mod:`.merit`).
Entry points in :mod:`.index`; docs/indexing.md describes the method and its papers.
"""
