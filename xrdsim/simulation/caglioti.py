"""The instrument width of every line: FWHM² = U·tan²θ + V·tanθ + W + P/cos²θ (deg²).

Caglioti, Paoletti & Ricci, Nucl. Instrum. 3, 223 (1958), with the Scherrer-like P/cos²θ
term of GSAS / TOPAS; θ = 2θ/2. The one formula of the project: the numba profile kernel
jits this function (:mod:`xrdsim.simulation.profile_kernel`), and the torch twin, the config
and parameter checks and the calibration fit call it on tensors and arrays. Elementwise on
Python floats, NumPy arrays and torch tensors alike, with one operand order everywhere, so
every backend rounds alike.
"""

from __future__ import annotations


def fwhm2(u, v, w, p, tan, cos):
    """U·tan²θ + V·tanθ + W + P/cos²θ (deg²) for U, V, W, P in deg², tan θ and cos θ."""
    return u * tan * tan + v * tan + w + p / (cos * cos)
