"""Row layout of a split (patterns per chunk and per shard) and how patterns are encoded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zarr.codecs import BloscCodec

from xrdsim.errors import ConfigError, DatasetError

#: Pattern dtypes a store may use (readers accept both).
PATTERN_DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class ShardLayout:
    """Rows of one split cut into shards (work units) and chunks (read units).

    Attributes:
        n_patterns: rows of the split (N).
        shard_size: rows per shard; each shard is one file per array and one work unit.
        chunk_size: rows per compressed chunk inside a shard; must divide ``shard_size``.
    """

    n_patterns: int
    shard_size: int
    chunk_size: int

    def __post_init__(self) -> None:
        if self.n_patterns < 0:
            raise ConfigError(f"n_patterns must be >= 0, got {self.n_patterns}")
        if self.chunk_size < 1 or self.shard_size < 1:
            raise ConfigError(
                f"shard_size and chunk_size must be >= 1, got {self.shard_size} and "
                f"{self.chunk_size}"
            )
        if self.shard_size % self.chunk_size:
            raise ConfigError(
                f"chunk_size {self.chunk_size} does not divide shard_size {self.shard_size}: "
                "chunks would straddle shards, so two work units would write one chunk. "
                f"Pick a chunk_size that divides {self.shard_size} (e.g. "
                f"{_largest_divisor_at_most(self.shard_size, self.chunk_size)}) or a "
                f"shard_size that is a multiple of {self.chunk_size}."
            )

    @property
    def n_shards(self) -> int:
        return -(-self.n_patterns // self.shard_size)

    def rows(self, shard_index: int) -> tuple[int, int]:
        """``(start, stop)`` rows of shard ``shard_index`` (the last one may be short)."""
        if not 0 <= shard_index < self.n_shards:
            raise DatasetError(f"shard {shard_index} out of range 0..{self.n_shards - 1}")
        start = shard_index * self.shard_size
        return start, min(start + self.shard_size, self.n_patterns)


def _largest_divisor_at_most(n: int, k: int) -> int:
    return max(d for d in range(1, min(n, k) + 1) if n % d == 0)


@dataclass(frozen=True)
class StoreEncoding:
    """How patterns are stored: dtype and Blosc compressor settings.

    The default (float16, Blosc lz4 level 5 with bit-shuffle) was chosen by
    measurement (``benchmarks/speed/bench_build.py``, docs/dataset.md): half the bytes of
    float32, rounding error <= 2**-12 on patterns normalised to max 1 (far below
    their counting noise), and the fastest write of the codecs tried.

    Attributes:
        dtype: ``"float16"`` or ``"float32"``.
        cname: Blosc codec name (``"zstd"``, ``"lz4"``, ...).
        clevel: compression level 0–9.
        shuffle: ``"bitshuffle"``, ``"shuffle"`` or ``"noshuffle"``.
    """

    dtype: str = "float16"
    cname: str = "lz4"
    clevel: int = 5
    shuffle: str = "bitshuffle"

    def __post_init__(self) -> None:
        if self.dtype not in PATTERN_DTYPES:
            raise ConfigError(f"pattern dtype must be one of {PATTERN_DTYPES}, got {self.dtype!r}")
        if not 0 <= self.clevel <= 9:
            raise ConfigError(f"clevel must lie in 0..9, got {self.clevel}")
        if self.shuffle not in ("bitshuffle", "shuffle", "noshuffle"):
            raise ConfigError(f"unknown shuffle {self.shuffle!r}")

    def compressors(self) -> list[BloscCodec]:
        return [BloscCodec(cname=self.cname, clevel=self.clevel, shuffle=self.shuffle)]

    def to_dict(self) -> dict:
        return {"dtype": self.dtype, "cname": self.cname, "clevel": self.clevel,
                "shuffle": self.shuffle}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoreEncoding:
        return cls(**dict(data))
