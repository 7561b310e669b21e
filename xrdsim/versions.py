"""Versions of xrdsim and the libraries whose behaviour shapes its outputs.

Written into every HDF5 peak database, Zarr store and manifest, so any output
can be traced to the code that made it.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: Distributions whose versions can change xrdsim's numbers.
TRACKED = (
    "xrdsim", "numpy", "scipy", "numba", "pymatgen", "spglib", "h5py", "zarr", "dask",
    "distributed", "torch",
)


def package_versions() -> dict[str, str]:
    """Return ``{distribution: version}`` for :data:`TRACKED` plus Python itself.

    A distribution that is not installed is reported as ``"not installed"``.
    """
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
