"""Counter-based random numbers in torch, bit-identical to :mod:`xrdsim.simulation.rng`.

torch has no general uint64 arithmetic, so keys live in int64 tensors holding the same
64 bits: multiplication, addition and XOR wrap identically in two's complement; only the
right shift differs (torch's is arithmetic), so :func:`_shr` masks off the copied sign
bits to make it logical. Every function takes and returns int64 tensors of any shape
(broadcasting), on any device.
"""

from __future__ import annotations

import torch

from xrdsim.simulation import rng as _rng


def _signed(value: int) -> int:
    """The int64 with the same 64 bits as the unsigned ``value``."""
    value = int(value) & 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


GOLDEN = _signed(_rng.GOLDEN)
MIX1 = _signed(_rng.MIX1)
MIX2 = _signed(_rng.MIX2)
SEED_SALT = _signed(_rng.SEED_SALT)
_INV_2_53 = 1.0 / 9007199254740992.0


def as_key(keys) -> torch.Tensor:
    """uint64 keys (NumPy uint64 array or ints) → int64 tensor holding the same bits."""
    import numpy as np

    return torch.from_numpy(np.ascontiguousarray(np.asarray(keys, dtype=np.uint64).view(np.int64)))


def _shr(z: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of the 64 bits in an int64 tensor."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """splitmix64 finaliser (as :func:`xrdsim.simulation.rng.mix64`)."""
    z = (z ^ _shr(z, 30)) * MIX1
    z = (z ^ _shr(z, 27)) * MIX2
    return z ^ _shr(z, 31)


def pattern_key(seed: int, structure_key: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
    """Key of each pattern: mix(mix(mix(seed ^ salt) ^ structure_key) + (view+1)·γ)."""
    k = mix64(torch.full_like(structure_key, _signed(seed)) ^ SEED_SALT)
    k = mix64(k ^ structure_key)
    return mix64(k + (view + 1) * GOLDEN)


def stream_key(key: torch.Tensor, stream: int) -> torch.Tensor:
    """Key of one op's stream inside a pattern: mix(key ^ (stream·γ))."""
    return mix64(key ^ _signed(stream * int(_rng.GOLDEN)))


def uniform(skey: torch.Tensor, counter: torch.Tensor | int) -> torch.Tensor:
    """float64 in [0, 1): top 53 bits of mix(skey + (counter+1)·γ) times 2⁻⁵³."""
    counter = torch.as_tensor(counter, dtype=torch.int64, device=skey.device)
    z = mix64(skey + (counter + 1) * GOLDEN)
    return _shr(z, 11).to(torch.float64) * _INV_2_53
