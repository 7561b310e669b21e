"""Peaks stage: Bragg line lists, their numba kernel, the HDF5 peak database and its job.

Data flow: structures -> peaks -> simulation -> dataset.
"""
