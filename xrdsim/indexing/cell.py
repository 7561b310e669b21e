"""Unit-cell arithmetic of indexing: the crystal systems' quadratic forms, metrics, reflections.

Each searched system writes ``Q = 1/d²`` linearly in parameters ``g``
(:mod:`xrdsim.indexing.dichotomy_kernel` lists the forms); this module turns ``g`` into the
reciprocal metric ``G*`` (``Q(hkl) = hᵀ G* h``), into the cell ``a, b, c, α, β, γ`` and
volume, and lists the reflections of a cell up to a Q, in the Friedel half-space.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from xrdsim.indexing import dichotomy_kernel as K

#: Searched systems in the order the search runs them, with their kernel codes.
SYSTEM_CODES: dict[str, int] = {
    "cubic": K.CUBIC, "tetragonal": K.TETRAGONAL, "hexagonal": K.HEXAGONAL,
    "orthorhombic": K.ORTHORHOMBIC, "monoclinic": K.MONOCLINIC, "triclinic": K.TRICLINIC,
}
SEARCH_ORDER = tuple(SYSTEM_CODES)
#: Q of equal-Q reflections agree to this relative precision (exact symmetry of the metric).
SAME_Q_REL = 1e-7


def n_params(system: str) -> int:
    return K.N_PARAMS[SYSTEM_CODES[system]]


def coefficients(system: str, hkl: np.ndarray) -> np.ndarray:
    """(n, p) float64 coefficient rows c(hkl) of ``system``'s form, ``Q = c(hkl)·g``."""
    h, k, l = (np.asarray(hkl, dtype=np.float64).reshape(-1, 3).T)
    if system == "cubic":
        cols = [h * h + k * k + l * l]
    elif system == "tetragonal":
        cols = [h * h + k * k, l * l]
    elif system == "hexagonal":
        cols = [h * h + h * k + k * k, l * l]
    elif system == "orthorhombic":
        cols = [h * h, k * k, l * l]
    elif system == "monoclinic":
        cols = [h * h, k * k, l * l, h * l]
    else:
        cols = [h * h, k * k, l * l, h * k, k * l, h * l]
    return np.stack(cols, axis=1)


def reciprocal_metric(system: str, g: np.ndarray) -> np.ndarray:
    """(3, 3) G* of the parameters ``g`` of ``system`` (Å⁻²)."""
    g = np.asarray(g, dtype=np.float64)
    if system == "cubic":
        return np.diag([g[0]] * 3)
    if system == "tetragonal":
        return np.diag([g[0], g[0], g[1]])
    if system == "hexagonal":  # Q = (h² + hk + k²)·A + l²·C
        return np.array([[g[0], g[0] / 2, 0.0], [g[0] / 2, g[0], 0.0], [0.0, 0.0, g[1]]])
    if system == "orthorhombic":
        return np.diag(g[:3])
    if system == "monoclinic":  # Q = h²A + k²B + l²C + hl·F
        return np.array([[g[0], 0.0, g[3] / 2], [0.0, g[1], 0.0], [g[3] / 2, 0.0, g[2]]])
    return np.array([[g[0], g[3] / 2, g[5] / 2], [g[3] / 2, g[1], g[4] / 2],
                     [g[5] / 2, g[4] / 2, g[2]]])


def params_from_metric(system: str, gstar: np.ndarray) -> np.ndarray:
    """Inverse of :func:`reciprocal_metric` for a metric of that system's shape."""
    m = np.asarray(gstar, dtype=np.float64)
    if system == "cubic":
        return np.array([m[0, 0]])
    if system in ("tetragonal", "hexagonal"):
        return np.array([m[0, 0], m[2, 2]])
    if system == "orthorhombic":
        return np.diag(m).copy()
    if system == "monoclinic":
        return np.array([m[0, 0], m[1, 1], m[2, 2], 2 * m[0, 2]])
    return np.array([m[0, 0], m[1, 1], m[2, 2], 2 * m[0, 1], 2 * m[1, 2], 2 * m[0, 2]])


def cell_from_metric(gstar: np.ndarray) -> tuple[np.ndarray, float]:
    """(a, b, c in Å, α, β, γ in degrees) and the volume (Å³) of the reciprocal metric G*."""
    g = np.linalg.inv(np.asarray(gstar, dtype=np.float64))
    lengths = np.sqrt(np.diag(g))
    cosines = np.clip([g[1, 2] / (lengths[1] * lengths[2]), g[0, 2] / (lengths[0] * lengths[2]),
                       g[0, 1] / (lengths[0] * lengths[1])], -1.0, 1.0)
    volume = math.sqrt(max(float(np.linalg.det(g)), 0.0))
    return np.concatenate([lengths, np.degrees(np.arccos(cosines))]), volume


def direct_metric(cell) -> np.ndarray:
    """(3, 3) direct metric G of (a, b, c, α, β, γ)."""
    a, b, c, al, be, ga = (float(x) for x in cell)
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    return np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca],
                     [a * c * cb, b * c * ca, c * c]])


def is_positive_definite(gstar: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(gstar)
    except np.linalg.LinAlgError:
        return False
    return True


def reflections(gstar: np.ndarray, qmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Every hkl of the Friedel half-space with 0 < Q ≤ qmax, sorted by Q.

    |h| ≤ a·√qmax (the plane spacing 1/√Q is at most the cell edge), likewise k, l.

    Returns:
        hkl (n, 3) int64, Q (n,) float64 ascending.
    """
    g = np.linalg.inv(gstar)
    caps = np.floor(np.sqrt(np.diag(g) * qmax) + 1e-9).astype(np.int64)
    h, k, l = np.meshgrid(np.arange(0, caps[0] + 1), np.arange(-caps[1], caps[1] + 1),
                          np.arange(-caps[2], caps[2] + 1), indexing="ij")
    hkl = np.stack([h.ravel(), k.ravel(), l.ravel()], axis=1)
    half = (hkl[:, 0] > 0) | ((hkl[:, 0] == 0) & ((hkl[:, 1] > 0)
                                                  | ((hkl[:, 1] == 0) & (hkl[:, 2] > 0))))
    hkl = hkl[half]
    f = hkl.astype(np.float64)
    q = np.einsum("ni,ij,nj->n", f, gstar, f)
    keep = q <= qmax
    order = np.argsort(q[keep], kind="stable")
    return hkl[keep][order], q[keep][order]


def distinct_lines(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group sorted Q values that are equal (relative :data:`SAME_Q_REL`).

    Returns:
        (m,) Q of each distinct line, (n,) the line of each input value.
    """
    if q.size == 0:
        return q, np.zeros(0, np.int64)
    new = np.concatenate([[True], np.diff(q) > SAME_Q_REL * q[1:]])
    group = np.cumsum(new) - 1
    return q[new], group


def q_of_two_theta(two_theta: np.ndarray, wavelength: float) -> np.ndarray:
    """Q = 1/d² = 4 sin²θ / λ² (Å⁻²) of 2θ in degrees."""
    s = np.sin(np.radians(np.asarray(two_theta, dtype=np.float64)) / 2.0)
    return 4.0 * s * s / (wavelength * wavelength)


def two_theta_of_q(q: np.ndarray, wavelength: float) -> np.ndarray:
    """2θ (degrees) of Q = 1/d²; NaN past the 180° limit."""
    s = wavelength * np.sqrt(np.asarray(q, dtype=np.float64)) / 2.0
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, 2.0 * np.degrees(np.arcsin(np.minimum(s, 1.0))), np.nan)


#: Rows: primitive basis vectors in units of the conventional ones, per centring
#: (International Tables Vol. A, Table 5.1.3.1; R in the obverse hexagonal setting).
PRIMITIVE: dict[str, np.ndarray] = {
    "P": np.eye(3),
    "I": np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]),
    "F": np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]),
    "C": np.array([[0.5, 0.5, 0.0], [-0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]),
    "A": np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]]),
    "B": np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [-0.5, 0.0, 0.5]]),
    "R": np.array([[2 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, 1 / 3], [-1 / 3, -2 / 3, 1 / 3]]),
}
#: spglib's Niggli tolerance (relative to the lengths, as spglib uses it).
NIGGLI_EPS = 1e-5


def lattice_vectors(cell) -> np.ndarray:
    """(3, 3) rows a, b, c (Å) of a cell (a along x, b in the xy plane)."""
    a, b, c, al, be, ga = (float(x) for x in cell)
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    sg = math.sin(math.radians(ga))
    cx = cb
    cy = (ca - cb * cg) / sg
    cz = math.sqrt(max(1.0 - cx * cx - cy * cy, 0.0))
    return np.array([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [c * cx, c * cy, c * cz]])


def reduced_cell(cell, centring: str = "P") -> np.ndarray:
    """Niggli-reduced (a, b, c, α, β, γ) of the primitive lattice of a centred cell."""
    import spglib

    prim = PRIMITIVE[centring] @ lattice_vectors(cell)
    scale = float(np.abs(prim).max())
    with warnings.catch_warnings():  # spglib ≥ 2.5 warns on every call of its old API
        warnings.simplefilter("ignore", DeprecationWarning)
        red = spglib.niggli_reduce(prim / scale, eps=NIGGLI_EPS)
    vectors = (prim if red is None else np.asarray(red) * scale)
    g = vectors @ vectors.T
    lengths = np.sqrt(np.diag(g))
    cosines = [g[1, 2] / (lengths[1] * lengths[2]), g[0, 2] / (lengths[0] * lengths[2]),
               g[0, 1] / (lengths[0] * lengths[1])]
    return np.concatenate([lengths, np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))])


def same_lattice(red1: np.ndarray, red2: np.ndarray, *, length_rel: float,
                 angle_deg: float) -> bool:
    """Two Niggli-reduced cells agree: sorted lengths each within ``length_rel`` (relative),
    sorted angles folded onto 0–90° each within ``angle_deg``. Sorting and folding make the
    test blind to the ties of the reduced form (equal edges, type I vs II at 90°)."""
    l1, l2 = np.sort(red1[:3]), np.sort(red2[:3])
    if np.any(np.abs(l1 - l2) > length_rel * l2):
        return False
    f1 = np.sort(np.minimum(red1[3:], 180.0 - red1[3:]))
    f2 = np.sort(np.minimum(red2[3:], 180.0 - red2[3:]))
    return bool(np.all(np.abs(f1 - f2) <= angle_deg))
