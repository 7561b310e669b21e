"""The float32 → float16 kernel against NumPy's own conversion, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from xrdsim.dataset.half_kernel import to_float16


def _numpy_bits(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(np.float16).view(np.uint16)


@pytest.mark.parametrize("lo, hi, step", [
    # zero / subnormal halves / first normals: every 13th bit pattern (a stride prime to
    # the 2^13 bits rounded away, so every rounding case occurs), 7 M values
    (0x33000000 - 4096, 0x38800000 + 4096, 13),
    (0x477F0000, 0x47810000, 1),  # rounding up to 65504 and overflowing to inf
    (0x7F800000, 0x80000000, 1),  # inf and every NaN payload
])
def test_equals_numpy_on_the_edge_ranges(lo, hi, step):
    for sign in (0, 0x80000000):
        bits = (np.arange(lo, hi, step, dtype=np.uint64) + sign).astype(np.uint32)
        values = bits.view(np.float32)
        np.testing.assert_array_equal(to_float16(values).view(np.uint16), _numpy_bits(values))


def test_equals_numpy_on_random_bits_and_pattern_values():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    np.testing.assert_array_equal(to_float16(values).view(np.uint16), _numpy_bits(values))
    # what the simulator writes: (rows, 12000) in [0, 1], exact ties included
    patterns = rng.random((7, 12000), dtype=np.float32)
    patterns[0, :4] = [0.0, 1.0, 1 + 2**-11, 1 + 3 * 2**-11]  # ties to even: down, up
    out = to_float16(patterns)
    assert out.shape == patterns.shape and out.dtype == np.float16
    np.testing.assert_array_equal(out.view(np.uint16), _numpy_bits(patterns))
    assert out[0, 2] == 1.0 and out[0, 3] == 1 + 2 * 2**-10


def test_non_contiguous_input_is_converted_in_order():
    values = np.random.default_rng(1).random((40, 30), dtype=np.float32)[::2, 3:]
    np.testing.assert_array_equal(to_float16(values), values.astype(np.float16))
