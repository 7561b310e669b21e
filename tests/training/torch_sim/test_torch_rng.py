"""The torch port of the counter-based RNG gives the numba streams bit for bit."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xrdsim_training.torch_sim import rng as T  # noqa: E402

from xrdsim.simulation import rng as R  # noqa: E402

SEEDS = [0, 7, 2**63 + 11, 2**64 - 1]
STRUCTURE_KEYS = np.array([0, 1, 2**62 + 5, 123456789012345, 2**63 - 1], dtype=np.int64)
VIEWS = np.array([0, 1, 7, 3, 1000], dtype=np.int64)


@pytest.mark.parametrize("seed", SEEDS)
def test_pattern_keys_equal_numba(seed):
    want = R.pattern_keys(np.uint64(seed), STRUCTURE_KEYS, VIEWS)
    got = T.pattern_key(seed, torch.from_numpy(STRUCTURE_KEYS), torch.from_numpy(VIEWS))
    assert np.array_equal(got.numpy().view(np.uint64), want)


@pytest.mark.parametrize("stream", [R.STREAM_POSITION, R.STREAM_POISSON, R.STREAM_ORIENTATION])
def test_uniform_streams_equal_numba(stream):
    keys = R.pattern_keys(3, STRUCTURE_KEYS, VIEWS)
    skeys = np.array([R.stream_key(k, stream) for k in keys], dtype=np.uint64)
    counters = np.array([0, 1, 2, 63, 64, 12_000 * 64 + 5, 2**40])
    want = np.array([[R.uniform(s, c) for c in counters] for s in skeys])
    st = T.stream_key(T.as_key(keys), stream)
    assert np.array_equal(T.as_key(skeys).numpy(), st.numpy())
    got = T.uniform(st[:, None], torch.from_numpy(counters)[None, :])
    assert got.dtype == torch.float64
    assert np.array_equal(got.numpy(), want)
    assert (want >= 0).all() and (want < 1).all()


def test_uniform_takes_a_plain_int_counter():
    keys = R.pattern_keys(np.uint64(3), STRUCTURE_KEYS, VIEWS)
    st = T.stream_key(T.as_key(keys), R.STREAM_IMPURITY)
    want = [R.uniform(np.uint64(R.stream_key(k, R.STREAM_IMPURITY)), 12_345) for k in keys]
    assert np.array_equal(T.uniform(st, 12_345).numpy(), np.array(want))
