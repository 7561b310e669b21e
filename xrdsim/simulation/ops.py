"""The op catalogue: every simulation op in execution order, with its parameters and checks.

Each :class:`OpSpec` names an op, the physical range of each of its parameters
(:class:`ParamSpec`) and an optional cross-parameter check run when a config is loaded
(:mod:`xrdsim.simulation.op_checks`).
The kernels' slot layout is computed from this catalogue (:mod:`xrdsim.simulation.layout`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xrdsim.simulation import op_checks as checks
from xrdsim.simulation.distributions import Distribution
from xrdsim.simulation.holohedry import DEFAULT_DIRECTIONS

_INF = float("inf")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an op: allowed closed range, integer-ness, sampling scope.

    ``per_peak`` parameters are drawn once per peak (never recorded per pattern);
    ``symmetric`` parameters enter as ``U(−|a|, |a|)``, so a and −a are the same setting
    and disjointness is checked on |a|.
    """

    name: str
    lo: float = -_INF
    hi: float = _INF
    meaning: str = ""
    integer: bool = False
    per_peak: bool = False
    symmetric: bool = False


@dataclass(frozen=True)
class OpSpec:
    """An op: its parameters, its non-random settings (with defaults) and a check."""

    name: str
    params: tuple[ParamSpec, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Distribution], dict[str, Any]], None] | None = None
    always_on: bool = False
    #: What the op does, with its formula: the "what it does" column of the op table in
    #: docs/simulation.md (``docs/op_table.py`` writes it).
    doc: str = ""


def _crop(meaning: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("low", 0.0, 180.0, f"{meaning} lower edge, degrees 2θ"),
        ParamSpec("high", 0.0, 180.0, f"{meaning} upper edge, degrees 2θ"),
    )


#: Every op in execution order (das2025 Table 1, with the extra ops slotted in where they act).
OPS: tuple[OpSpec, ...] = (
    OpSpec(
        "mixture",
        (
            ParamSpec("phases", 0.0, 2.0, "extra phases from other structures", integer=True),
            ParamSpec("fraction", 0.0, 0.5, "w, weight fraction of each extra phase"),
        ),
        check=checks.check_mixture,
        doc=(
            "extra phases from other structures of the peak database, chosen by the pattern key, "
            "each at weight fraction w (the labelled phase keeps 1 − phases·w), scaled by the "
            "Rietveld rule I_p ∝ w_p·|F|²LPm/(Z·M·V)_p (Hill & Howard 1987; Z·M = cell mass from "
            "the reduced formula and the site count, V = cell volume). Acts in "
            "`simulate_database` (dataset builds, on-the-fly training); a bare peak list records "
            "`phases = 0`"
        ),
    ),
    OpSpec(
        "lattice_strain",
        (ParamSpec("amplitude", 0.0, 0.1, "ε, relative change of the lattice parameters"),),
        doc=(
            "the sample's cell is not the model's (DFT-relaxed cells are ~1–3 % off measured "
            "ones; thermal expansion, solid solution): per pattern, e = ε·(2u − 1) for e₀ and a 3 "
            "× 3 E, S = e₀·I + D⁻¹·E·D (D = diag of √G*ᵢᵢ), G*″ = (I + S)ᵀ·G*·(I + S) and G*′ = "
            "the mean of Mᵀ·G*″·M over the lattice's holohedry, a metric of the same crystal "
            "system (cubic: isotropic; tetragonal / hexagonal: a and c; … triclinic: all six). "
            "Every line: sin θ ← sin θ·d/d′, d/d′ = √(hᵀG*′h / hᵀG*h) (each wavelength alike); a "
            "line pushed past sin θ = 1 is dropped. Every phase of a mixture takes the pattern's "
            "draws in its own lattice. Needs hkl and cell like op 8; intensities keep their "
            "unstrained values (LP and form factors move by ≲ ε)"
        ),
    ),
    OpSpec(
        "zero_shift",
        (ParamSpec("delta", -5.0, 5.0, "2θ offset, degrees"),),
        doc="every line: 2θ ← 2θ + δ",
    ),
    OpSpec(
        "displacement",
        (ParamSpec("shift", -2.0, 2.0, "sample height displacement s, mm"),),
        {"radius": 240.0},
        checks.check_radius("displacement"),
        doc=(
            "every line: 2θ ← 2θ − (2s·cosθ/R)·180/π (sample above/below the focusing circle; R "
            "the goniometer radius setting, mm)"
        ),
    ),
    OpSpec(
        "position_noise",
        (ParamSpec("amplitude", -1.0, 1.0, "a, degrees", symmetric=True),),
        doc="per line: 2θ ← 2θ + a·(2u−1), u ~ U(0,1)",
    ),
    OpSpec(
        "peak_crop",
        _crop("peak window"),
        check=checks.check_crop("peak_crop"),
        doc="lines outside [low, high] are removed",
    ),
    OpSpec(
        "intensity_noise",
        (ParamSpec("amplitude", -1.0, 1.0, "ℓ, fraction", symmetric=True),),
        doc="per line: y ← y·(1 + ℓ·(2u−1))",
    ),
    OpSpec(
        "preferred_orientation",
        (ParamSpec("r", 0.1, 10.0, "March–Dollase ratio r (< 1 plates, > 1 needles)"),),
        {"directions": [list(d) for d in DEFAULT_DIRECTIONS]},
        checks.check_directions,
        doc=(
            "March–Dollase: y ← y·⟨(r²cos²α + sin²α/r)^(−3/2)⟩ over the line's equivalent "
            "reflections, α between each and the preferred direction (one of the `directions` "
            "setting, plate normals, drawn per pattern); r < 1 plates, r > 1 needles. Needs the "
            "hkl of each line and the cell (below); without them r is recorded as 1"
        ),
    ),
    OpSpec(
        "doublet",
        (ParamSpec("ratio", 0.0, 1.0, "r = I(Kα2)/I(Kα1)"),),
        {"anode": "Cu"},
        checks.check_doublet,
        doc=(
            "each line becomes Kα1 and Kα2 of the `anode` at `convert_two_theta(2θ, λ_peaks → "
            "λ_Kα1/Kα2)`, intensities y/(1+r) and y·r/(1+r) (total kept)"
        ),
    ),
    OpSpec(
        "tube_lines",
        (
            ParamSpec("kbeta", 0.0, 0.5, "I(Kβ1)/I(Kα), unfiltered or leaky filter"),
            ParamSpec("tungsten", 0.0, 0.2, "I(W Lα1)/I(Kα), contaminated anode"),
        ),
        {"anode": "Cu"},
        checks.check_tube_lines,
        doc=(
            "adds a Kβ1 line (λ of the anode) of y·kbeta and a W Lα1 line (1.47642 Å, tungsten on "
            "an aged anode) of y·tungsten at their own 2θ (same |F|², no λ-dependence of LP); a "
            "line weaker than `tail_cutoff` × the strongest input peak is left out (below what "
            "the profile window keeps of any peak)"
        ),
    ),
    OpSpec(
        "binning",
        (),
        {"mode": "sum"},
        checks.check_binning,
        always_on=True,
        doc=(
            "lines into bins j = ⌊2θ/0.01⌋ (the sticks; the profile uses them with `positions: "
            "binned`), their intensities summed or (`mode: mean`) averaged; lines off the grid "
            "dropped"
        ),
    ),
    OpSpec(
        "impurity",
        (
            ParamSpec("count", 0.0, 1000.0, "M, number of impurity peaks", integer=True),
            ParamSpec("intensity", 0.0, 1.0, "fraction of the binned maximum", per_peak=True),
        ),
        {"two_theta_range": [5.0, 115.0]},
        checks.check_impurity,
        doc="M lines at 2θ ~ U(`two_theta_range`), each of height `intensity` × max(binned)",
    ),
    OpSpec(
        "profile",
        (
            # |U|, |V|, |W|, |P| ≤ 10 deg² keeps every FWHM on 0–120° below ≈ 10° 2θ
            ParamSpec("U", -10.0, 10.0, "Caglioti U, deg²"),
            ParamSpec("V", -10.0, 10.0, "Caglioti V, deg²"),
            ParamSpec("W", -10.0, 10.0, "Caglioti W, deg²"),
            ParamSpec("P", -10.0, 10.0, "Caglioti P (Scherrer-like), deg²"),
            ParamSpec("eta", 0.0, 1.0, "Lorentzian fraction η"),
            ParamSpec("rho", -1.0, 1.0, "asymmetry ρ"),
        ),
        {"latin_hypercube": True, "tail_cutoff": 0.005, "positions": "exact"},
        checks.check_profile,
        doc=(
            "asymmetric pseudo-Voigt, bin-integrated (below); `positions: exact` (default) "
            "integrates each line from its true 2θ, `binned` (das2025) from its bin centre; "
            "`latin_hypercube` draws U, V, W, P as a Latin hypercube; `tail_cutoff` sets the "
            "window"
        ),
    ),
    OpSpec(
        "sample_broadening",
        (
            ParamSpec("size", 0.5, 1e5, "D, crystallite size, nm"),
            ParamSpec("strain", 0.0, 0.1, "ε, microstrain"),
        ),
        doc=(
            "adds (Kλ/(D cosθ) + 4ε tanθ)·180/π in quadrature to the Caglioti FWHM (K = 0.9); "
            "needs `profile`"
        ),
    ),
    OpSpec(
        "transparency",
        (ParamSpec("mu", 1.0, 1e5, "μ, linear absorption coefficient of the sample, 1/cm"),),
        {"radius": 240.0},
        checks.check_radius("transparency"),
        doc=(
            "X-rays penetrate to depth ~1/μ: the pattern is convolved (R the goniometer radius "
            "setting) with an exponential tail toward low angle of mean δ = sin2θ/(2μR)·180/π, as "
            "the recursion y'_j = (1−a_j)·y_j + a_j·y'_{j+1} from high to low angle, a_j = δ_j/(h "
            "+ δ_j) (discrete kernel (1−a)aᵐ of mean exactly δ); O(bins), whatever the number of "
            "lines"
        ),
    ),
    OpSpec(
        "background",
        tuple(ParamSpec(f"c{k}", 0.0, 10.0, "Bernstein level") for k in range(4)),
        doc=(
            "cubic Bernstein background Σ c_k·C(3,k)·t^k(1−t)^(3−k), t = 2θ/120°: c_k ≈ level "
            "near 0, 40, 80, 120°"
        ),
    ),
    OpSpec(
        "amorphous",
        (
            ParamSpec("count", 0.0, 10.0, "number of amorphous humps", integer=True),
            ParamSpec("height", 0.0, 10.0, "hump height, fraction of the maximum", per_peak=True),
            ParamSpec("center", 0.0, 180.0, "hump centre, degrees 2θ", per_peak=True),
            ParamSpec("fwhm", 0.5, 180.0, "hump FWHM, degrees 2θ", per_peak=True),
            ParamSpec("eta", 0.0, 1.0, "hump Lorentzian fraction", per_peak=True),
        ),
        check=checks.check_per_hump("amorphous", ("height", "center", "fwhm", "eta")),
        doc=(
            "`count` humps h·[(1−η)exp(−4 ln2 d²/w²) + η/(1 + 4d²/w²)], d = 2θ − c, height h, "
            "centre c, FWHM w and η drawn per hump (glass, amorphous fraction, sample holder)"
        ),
    ),
    OpSpec(
        "air_scatter",
        (
            ParamSpec("amplitude", 0.0, 100.0, "A, level at 2θ = 0, fraction of the maximum"),
            ParamSpec("decay", 0.1, 90.0, "τ, e-folding length, degrees 2θ"),
        ),
        doc="low-angle rise A·exp(−2θ/τ) (air scatter, beam stop)",
    ),
    OpSpec(
        "poisson_noise",
        (ParamSpec("counts", 1.0, 1e12, "N, counts at the maximum"),),
        doc=(
            "counting statistics: y ← Poisson(N·max(y, 0))/N per bin, N counts at the "
            "maximum (inversion below λ = 10, PTRS transformed rejection to 50, Hörmann 1993; "
            "from λ = 50 the Cornish–Fisher-corrected normal quantile, total variation "
            "distance to Poisson ≤ 0.021/λ)"
        ),
    ),
    OpSpec(
        "counting_noise",
        (ParamSpec("counts", 1.0, 1e12, "C, counts at the maximum"),),
        doc="y ← y + √(max(y,0)/C)·z, z ~ N(0,1): the Gaussian limit of op 19 (kept for das2025)",
    ),
    OpSpec(
        "background_noise",
        (
            ParamSpec("amplitude", 0.0, 1.0, "n, fraction of the maximum"),
            ParamSpec("dilation", 0.0, 12000.0, "d, knot spacing, bins"),
        ),
        doc="knots z_k ~ U(−n, n) every D = max(d, 1) bins, linearly interpolated, added",
    ),
    OpSpec(
        "scan_range",
        (
            ParamSpec("start", 0.0, 180.0, "first 2θ of the scan, degrees"),
            ParamSpec("end", 0.0, 180.0, "last 2θ of the scan, degrees"),
        ),
        check=checks.check_crop("scan_range", "start", "end"),
        doc=(
            "bins outside [start, end] set to 0 before renormalising: a real scan (e.g. 5–90°) on "
            "the 0–120° grid"
        ),
    ),
    OpSpec(
        "renormalize",
        (),
        doc="pattern ÷ its maximum (when > 0)",
    ),
    OpSpec(
        "final_crop",
        _crop("pattern window"),
        check=checks.check_crop("final_crop"),
        doc="bins whose centre is outside [low, high] set to 0 (after renormalising, das2025)",
    ),
)


OP_BY_NAME = {op.name: op for op in OPS}
#: Ops added after the first release. A per-pattern parameter's slot is the counter of
#: its random draw, so these take the last slots: a config without them draws exactly the
#: numbers it drew before they existed.
LATE_OPS = ("lattice_strain",)


def op_spec(name: str) -> OpSpec:
    return OP_BY_NAME[name]
