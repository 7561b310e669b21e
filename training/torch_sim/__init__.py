"""The profile simulator in batched torch, on any device (see :mod:`.rng` first).

Mirrors :mod:`xrdsim.simulation` op for op: the same inputs give the same patterns on
CPU-numba, CPU-torch and CUDA up to float32 rounding, because every random number comes
from the same counter-based streams (:mod:`xrdsim_training.torch_sim.rng`).
"""
