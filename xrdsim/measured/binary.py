"""Bounds-checked little-endian reads from the bytes of a binary pattern file.

Every binary reader (Bruker ``.raw``, Philips ``.rd``) reads through :class:`ByteReader`:
an offset or a length taken from the file that points past its end raises
:class:`~xrdsim.errors.PatternReadError` naming the field, instead of an ``IndexError`` or
a silently short array, and a point count is checked against the bytes that remain before
any array is allocated.
"""

from __future__ import annotations

import struct

import numpy as np

from xrdsim.errors import PatternReadError

#: Most ranges (scans) one binary file may declare; instruments write a handful.
MAX_RANGES = 1000


class ByteReader:
    """A cursor over ``data`` for the file ``src``."""

    def __init__(self, data: bytes, src: str, offset: int = 0):
        self.data = data
        self.src = src
        self.offset = offset

    def _take(self, size: int, what: str) -> int:
        start = self.offset
        if size < 0 or start + size > len(self.data):
            raise PatternReadError(self.src, f"{what} at byte {start} needs {size} bytes but "
                                   f"the file ends at {len(self.data)}; is it truncated?")
        self.offset = start + size
        return start

    def skip(self, size: int, what: str = "a header field") -> None:
        self._take(size, what)

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, self.data, self._take(size, what))

    def u16(self, what: str) -> int:
        return self.unpack("H", what)[0]

    def u32(self, what: str) -> int:
        return self.unpack("I", what)[0]

    def f32(self, what: str) -> float:
        """A float32 field as the shortest decimal that round-trips it (1.5406, not
        1.54059994)."""
        value = np.float32(self.unpack("f", what)[0])
        return float(np.format_float_positional(value, unique=True)) if np.isfinite(value) \
            else float(value)

    def f64(self, what: str) -> float:
        return float(self.unpack("d", what)[0])

    def text(self, size: int, what: str) -> str:
        """A fixed-width, NUL-padded string field."""
        raw = self.data[self._take(size, what):self.offset]
        return raw.split(b"\0", 1)[0].decode("latin-1").strip()

    def floats(self, count: int, what: str, *, dtype: str = "<f4") -> np.ndarray:
        """``count`` values of ``dtype``; the count is checked against the bytes left."""
        width = np.dtype(dtype).itemsize
        if count < 0 or count * width > len(self.data) - self.offset:
            raise PatternReadError(self.src, f"{what}: {count} values of {width} bytes at byte "
                                   f"{self.offset} run past the end of the file "
                                   f"({len(self.data)} bytes); is it truncated?")
        start = self._take(count * width, what)
        return np.frombuffer(self.data, dtype=dtype, count=count, offset=start).astype(np.float64)

    def at_end(self) -> bool:
        return self.offset >= len(self.data)


def check_range_count(count: int, src: str) -> None:
    if not 1 <= count <= MAX_RANGES:
        raise PatternReadError(src, f"the header declares {count} ranges; expected 1 to "
                               f"{MAX_RANGES}: not a pattern file of this format, or damaged")
