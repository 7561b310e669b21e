"""Writers of small pattern files in formats no real example of which is shipped.

Each writes the same scan — one Gaussian peak at 21.00° (σ 0.08°, 900 counts above 120) on
20.00–20.80° in 0.02° steps, 0.5 s per step — in exactly the byte layout the reader's
module docstring documents, so the tests check each reader against that layout (not against
an instrument). ``python tests/measured/documented_layouts.py`` rewrites the files in
``tests/data/patterns/documented_layouts/``; a test checks the committed bytes equal these.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parents[1] / "data" / "patterns" / "documented_layouts"
START, STEP, N, TIME = 20.0, 0.02, 41, 0.5
KALPHA1, KALPHA2, RATIO = 1.5406, 1.54439, 0.5


def counts() -> np.ndarray:
    x = START + STEP * np.arange(N)
    return np.round(120 + 900 * np.exp(-0.5 * ((x - 20.4) / 0.08) ** 2))


def _pad(data: bytes, size: int) -> bytes:
    assert len(data) <= size
    return data + b"\0" * (size - len(data))


def raw_v1() -> bytes:
    """``RAW ``: 152-byte range header, no further range."""
    head = struct.pack("<IffII", N, TIME, STEP, 0, 0) + struct.pack("<ffff", START, -1e6,
                                                                     -1e6, -1e6)
    head += _pad(b"documented layout", 32) + struct.pack("<ff", KALPHA1, KALPHA2)
    head += b"\0" * 72 + struct.pack("<I", 0)
    return b"RAW " + head + counts().astype("<f4").tobytes()


def raw_v2() -> bytes:
    """``RAW2``: 256-byte file header, one 48-byte range header."""
    head = bytearray(256)
    head[0:4] = b"RAW2"
    head[4:6] = struct.pack("<H", 1)
    head[168:188] = _pad(b"2026-12-07 12:00:00", 20)
    head[188:190] = b"Cu"
    head[190:202] = struct.pack("<fff", KALPHA1, KALPHA2, RATIO)
    rng = struct.pack("<HH4xfff", 48, N, TIME, STEP, START) + b"\0" * 26 + struct.pack("<H", 0)
    return bytes(head) + rng + counts().astype("<f4").tobytes()


def raw_v4() -> bytes:
    """``RAW4.00``: 61-byte header, a hardware segment (type 30, 120 bytes), one locked
    coupled range (type 0, 160 bytes) with no further headers."""
    head = _pad(b"RAW4.00", 12) + _pad(b"12/07/2026", 12) + _pad(b"12:00:00", 10)
    head = _pad(head, 61)
    hw = bytearray(120)
    hw[0:8] = struct.pack("<II", 30, 120)
    hw[72:112] = struct.pack("<5d", 1.54184, KALPHA1, KALPHA2, 1.39222, RATIO)
    hw[116:120] = b"Cu\0\0"
    rng = bytearray(160)
    rng[0:4] = struct.pack("<I", 0)
    rng[32:56] = _pad(b"Locked Coupled", 24)
    rng[72:96] = struct.pack("<ddIf", START, STEP, N, TIME)
    rng[100:108] = struct.pack("<ff", 40.0, 40.0)
    rng[112:120] = struct.pack("<d", KALPHA1)
    rng[136:144] = struct.pack("<II", 4, 0)
    return head + bytes(hw) + bytes(rng) + counts().astype("<f4").tobytes()


FILES = {"layout_v1.raw": raw_v1, "layout_v2.raw": raw_v2, "layout_v4.raw": raw_v4}


def write_all(folder: Path = FOLDER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in FILES.items():
        data = make()
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


if __name__ == "__main__":
    write_all()
