"""Instrument calibration: fit the forward model to a measured pattern of a known phase.

Beside the flow, after ``measured``: it reads a measured file (:mod:`xrdsim.measured`) and a
CIF (:mod:`xrdsim.structures`), computes the phase's lines (:mod:`xrdsim.peaks`), fits
(:mod:`.fit`, model in :mod:`.model`, preferred orientation in :mod:`.orientation`) and
writes a simulation config centred on the fitted instrument (:mod:`.instrument`, on top of a
:mod:`xrdsim.simulation` preset). ``docs/calibration.md`` describes it.
"""
