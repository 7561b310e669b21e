"""Counter-based random numbers for the simulator (numba, no global state).

Every random number of a pattern is a pure function of three integers:
``uniform(stream_key(pattern_key, stream), counter)``. ``pattern_key`` comes from
``(seed, structure_key, view)`` (:func:`pattern_key`), ``stream`` names the op that
consumes the numbers (the ``STREAM_*`` constants below) and ``counter`` indexes the
number inside that op (peak index, bin index, ...). Nothing depends on batch position,
batch size, thread or worker, so a pattern is bit-identical however it is scheduled.

The mixing function is the splitmix64 finaliser (Steele, Lea & Flood, OOPSLA 2014;
the output function of ``java.util.SplittableRandom``): a bijective avalanche hash of a
64-bit counter, which passes BigCrush when fed ``counter·γ`` with the golden-ratio
increment ``γ = 0x9E3779B97F4A7C15``. All arithmetic is uint64 with wrap-around.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: splitmix64 increment (odd, ⌊2⁶⁴/φ⌋).
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: splitmix64 finaliser multipliers.
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
#: Domain separator folded into the seed before the structure key and view.
SEED_SALT = np.uint64(0x243F6A8885A308D3)

# One stream per consumer, so adding numbers to one op never shifts another op's numbers.
STREAM_PARAMS = 1  # per-pattern parameters, counter = parameter slot
STREAM_LHS_ROW = 2  # which row of the Latin-hypercube design a pattern uses
STREAM_LHS_JITTER = 3  # position inside the LHS stratum, counter = design column
STREAM_POSITION = 4  # per-peak position noise, counter = peak index
STREAM_INTENSITY = 5  # per-peak intensity noise, counter = peak index
STREAM_IMPURITY = 6  # impurity peaks, counter = 2m (position), 2m+1 (intensity)
STREAM_COUNTING = 7  # counting noise, counter = bin index
STREAM_BACKGROUND = 8  # correlated background noise, counter = knot index
STREAM_POISSON = 9  # Poisson counting noise, counter = 64·bin + attempt
STREAM_AMORPHOUS = 10  # amorphous humps, counter = 4·hump + parameter
STREAM_MIXTURE = 11  # which structures join a multi-phase pattern, counter = phase
STREAM_ORIENTATION = 12  # preferred-orientation axis, counter 0
STREAM_LATTICE = 13  # lattice strain, counter = entry of (e₀, E row-major)

_SH30 = np.uint64(30)
_SH27 = np.uint64(27)
_SH31 = np.uint64(31)
_SH11 = np.uint64(11)
_ONE = np.uint64(1)
#: 2⁻⁵³: turns the top 53 bits of a hash into a double in [0, 1).
_INV_2_53 = 1.0 / 9007199254740992.0


@nb.njit(cache=True, inline="always")
def mix64(z):
    """splitmix64 finaliser: z ^= z>>30; z *= M1; z ^= z>>27; z *= M2; z ^= z>>31 (uint64)."""
    z = np.uint64(z)
    z = (z ^ (z >> _SH30)) * MIX1
    z = (z ^ (z >> _SH27)) * MIX2
    return z ^ (z >> _SH31)


@nb.njit(cache=True)
def pattern_key(seed, structure_key, view):
    """Key of one pattern: mix(mix(mix(seed ^ salt) ^ structure_key) + (view+1)·γ)."""
    k = mix64(np.uint64(seed) ^ SEED_SALT)
    k = mix64(k ^ np.uint64(structure_key))
    return mix64(k + (np.uint64(view) + _ONE) * GOLDEN)


@nb.njit(cache=True, inline="always")
def stream_key(key, stream):
    """Key of one op's stream inside a pattern: mix(key ^ (stream·γ))."""
    return mix64(np.uint64(key) ^ (np.uint64(stream) * GOLDEN))


@nb.njit(cache=True, inline="always")
def uniform(skey, counter):
    """Double in [0, 1): top 53 bits of mix(skey + (counter+1)·γ) times 2⁻⁵³."""
    z = mix64(np.uint64(skey) + (np.uint64(counter) + _ONE) * GOLDEN)
    return np.float64(z >> _SH11) * _INV_2_53


@nb.njit(cache=True)
def pattern_keys(seed, structure_keys, views):
    """Vector form of :func:`pattern_key`: (B,) int64 keys and views → (B,) uint64."""
    out = np.empty(structure_keys.shape[0], dtype=np.uint64)
    for b in range(structure_keys.shape[0]):
        out[b] = pattern_key(seed, structure_keys[b], views[b])
    return out


# Distribution codes of the encoded config (see xrdsim.simulation.sampling.encode_config).
KIND_OFF = -1  # op disabled: the slot is NaN
KIND_FIXED = 0
KIND_UNIFORM = 1
KIND_PLUSMINUS = 2
KIND_CHOICE = 3
KIND_RANDINT = 4
KIND_LOGUNIFORM = 5  # lo, hi hold log(lo), log(hi)
KIND_BANDS = 6  # band edges a, b, c, d, ... in vals[off : off + n]
KIND_LOGBANDS = 7  # the same with log edges


@nb.njit(cache=True, inline="always")
def transform(kind, lo, hi, vals, off, n, u):
    """Map u ∈ [0, 1) to a draw of the slot's distribution."""
    if kind == KIND_FIXED:
        return lo
    if kind == KIND_UNIFORM:  # lo + (hi − lo)·u
        return lo + (hi - lo) * u
    if kind == KIND_PLUSMINUS:  # sign from the lower/upper half of u, magnitude U(lo, hi)
        if u < 0.5:
            return -(lo + (hi - lo) * (2.0 * u))
        return lo + (hi - lo) * (2.0 * u - 1.0)
    if kind == KIND_CHOICE:  # vals[⌊u·n⌋]
        return vals[off + min(int(u * n), n - 1)]
    if kind == KIND_RANDINT:  # lo + ⌊u·(hi − lo + 1)⌋
        span = int(hi - lo)
        return lo + min(int(u * (span + 1)), span)
    if kind == KIND_LOGUNIFORM:  # exp(log lo + (log hi − log lo)·u)
        return np.exp(lo + (hi - lo) * u)
    if kind == KIND_BANDS or kind == KIND_LOGBANDS:  # t = u·Σ(b − a), walked band by band
        total = 0.0
        for i in range(0, n, 2):
            total += vals[off + i + 1] - vals[off + i]
        t = u * total
        x = vals[off + n - 1]
        for i in range(0, n, 2):
            width = vals[off + i + 1] - vals[off + i]
            if t < width:
                x = vals[off + i] + t
                break
            t -= width
        return np.exp(x) if kind == KIND_LOGBANDS else x
    return np.nan


@nb.njit(cache=True, parallel=True)
def draw_parameters(keys, kind, lo, hi, choice_off, choice_n, choice_vals, lhs_col, design):
    """Per-pattern parameters, shape (B, P) float64, from (B,) uint64 pattern keys.

    Slot p uses u = uniform(stream(key, PARAMS), p), or, when ``lhs_col[p] >= 0``, the
    stratum of design row r = ⌊uniform(stream(key, LHS_ROW), 0)·K⌋ in that column plus a
    uniform jitter inside it: u = (⌊design[r, c]·K⌋ + uniform(stream(key, JITTER), c)) / K.
    """
    n_pat = keys.shape[0]
    n_slot = kind.shape[0]
    n_rows = design.shape[0]
    out = np.empty((n_pat, n_slot), dtype=np.float64)
    for b in nb.prange(n_pat):
        kp = stream_key(keys[b], STREAM_PARAMS)
        kr = stream_key(keys[b], STREAM_LHS_ROW)
        kj = stream_key(keys[b], STREAM_LHS_JITTER)
        row = min(int(uniform(kr, 0) * n_rows), n_rows - 1)
        for p in range(n_slot):
            c = lhs_col[p]
            if c >= 0:
                cell = min(int(design[row, c] * n_rows), n_rows - 1)
                u = (cell + uniform(kj, c)) / n_rows
            else:
                u = uniform(kp, p)
            out[b, p] = transform(
                kind[p], lo[p], hi[p], choice_vals, choice_off[p], choice_n[p], u
            )
    return out


@nb.njit(cache=True)
def stream_uniforms(keys, stream, n):
    """(B, n) float64: uniform(stream_key(keys[b], stream), c) for c = 0…n−1."""
    out = np.empty((keys.shape[0], n), dtype=np.float64)
    for b in range(keys.shape[0]):
        sk = stream_key(keys[b], stream)
        for c in range(n):
            out[b, c] = uniform(sk, c)
    return out
