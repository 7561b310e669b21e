"""Measured patterns: readers per format, background estimation, preparation onto the model grid.

Sits beside the simulated data flow; uses only the shared ground (grid, wavelengths, errors).
"""
