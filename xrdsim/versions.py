"""Versions of xrdsim and the libraries whose behaviour shapes its outputs.

Written into every HDF5 peak database, Zarr store and manifest, so any output
can be traced to the code that made it.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

#: Version of what the simulator renders for given (peaks, config, seed, key, view): raised
#: whenever the same inputs render different bytes. Every store's build fingerprint
#: records it, so resuming a store rendered by another version is refused.
#: 1: up to issue 28; 2: Poisson counts from λ = 50 on are the corrected normal quantile
#: (docs/simulation.md, "Poisson noise").
RENDER_VERSION = 2

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


def machine_description() -> dict[str, object]:
    """The machine a measurement ran on: CPU model, cores, memory, platform, load.

    Written by every script in ``benchmarks/`` next to :func:`package_versions`, so a
    number can be compared only with numbers from the same kind of machine and load.
    """
    import os
    from pathlib import Path

    cpu, memory_gib = platform.processor() or "unknown", None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:  # not Linux: keep what platform knows
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        usable = os.cpu_count()
    return {"cpu": cpu, "cores_visible": os.cpu_count(), "cores_usable": usable,
            "memory_gib": memory_gib, "platform": platform.platform(),
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}
