"""Figure of a calibration: measured vs fitted pattern, the background, the difference."""

from __future__ import annotations

from pathlib import Path

from xrdsim.calibration.fit import CalibrationResult
from xrdsim.plotting import pyplot, save_figure


def plot_calibration(result: CalibrationResult, path: str | Path) -> Path:
    """Write a PNG: measured (points), fit, background and line ticks above, difference below."""
    v = result.values
    x, y = result.two_theta, result.measured
    fig, (top, bottom) = pyplot().subplots(2, 1, figsize=(9, 5.6), sharex=True,
                                           gridspec_kw={"height_ratios": [3, 1]})
    top.plot(x, y, ".", ms=1.2, color="0.3", label=Path(result.source).name)
    top.plot(x, result.fitted, lw=0.8, color="tab:red",
             label=f"fit ({v['formula']}, {v['lines']}), Rwp {v['rwp']:.2f} %")
    top.plot(x, result.background, lw=0.8, color="tab:orange", label="background")
    low = float(min(y.min(), result.background.min()))
    top.vlines(result.line_positions, low - 0.04 * (y.max() - low), low, color="tab:blue",
               lw=0.6)
    p = v["parameters"]
    po = v["preferred_direction"]
    text = (f"δ = {p['zero_shift']:+.3f}°, ε = ({p['strain_a']:+.4f}, {p['strain_b']:+.4f}, "
            f"{p['strain_c']:+.4f}), "
            f"FWHM {v['fwhm_range'][0]:.3f}–{v['fwhm_range'][1]:.3f}°, η = {p['eta']:.2f}, "
            f"ρ = {p['rho']:+.2f}" + (f", Kα2/Kα1 = {p['ratio']:.2f}" if "ratio" in p else "")
            + (f", March r = {p['po_r']:.2f} along ({po[0]}{po[1]}{po[2]})" if po else ""))
    top.set_title(text, fontsize=8)
    top.set_ylabel("intensity (as in the file)")
    top.legend(fontsize=8)
    bottom.plot(x, y - result.fitted, lw=0.5, color="0.3")
    bottom.axhline(0.0, color="tab:red", lw=0.5)
    bottom.set_ylabel("measured − fit")
    bottom.set_xlabel(f"2θ (degrees, λ = {v['wavelength']:.5f} Å)")
    return save_figure(fig, path, dpi=110)
