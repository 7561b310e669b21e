"""The profile simulator in batched torch, on any device (see :mod:`.rng` first).

Mirrors :mod:`xrdsim.simulation` op for op: the same inputs give the same patterns on
CPU-numba, CPU-torch and CUDA up to float32 rounding, because every random number comes
from the same counter-based streams (:mod:`xrdsim_training.torch_sim.rng`).

Each module mirrors the numba module of the same stage: :mod:`.lines` ↔
``lines_kernel``, :mod:`.crystal` ↔ ``crystal_kernel``, :mod:`.profile` ↔ ``profile_kernel``,
:mod:`.noise` ↔ ``noise_kernel``, :mod:`.render` ↔ ``render_kernel``, :mod:`.rng`,
:mod:`.kernel_inputs`, :mod:`.phases` and :mod:`.simulator` ↔ the modules of those names in
``xrdsim.simulation``; all read the slot layout of ``xrdsim.simulation.layout``.

Entry points (:mod:`.simulator`)::

    from xrdsim_training.torch_sim import DevicePeaks, simulate_batch, simulate_database

    out = simulate_batch(two_theta, intensity, offsets, "train", seed=0,
                         structure_keys=keys, views=0, device="cuda")   # out.patterns
    peaks = DevicePeaks(PeakDatabase("peaks.h5"), device="cuda")         # the DB on the GPU
    out = simulate_database(peaks, rows, "train", seed=0, structure_keys=k, views=v)
"""

from xrdsim_training.torch_sim.phases import DevicePeaks
from xrdsim_training.torch_sim.simulator import (
    TorchSimulation,
    render,
    simulate_batch,
    simulate_database,
)

__all__ = ["DevicePeaks", "TorchSimulation", "render", "simulate_batch", "simulate_database"]
