"""Simulation stage: configs, distributions, sampling, RNG, the profile-ops kernel, presets.

Data flow: structures -> peaks -> simulation -> dataset.
"""
