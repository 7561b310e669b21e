"""Simulation stage: the op catalogue and its slot layout, configs, distributions, sampling,
RNG, the numba kernels of each stage (lines, crystal, render, profile, noise), presets, and
the front door :mod:`xrdsim.simulation.simulator`.

Data flow: structures -> peaks -> simulation -> dataset.
"""
