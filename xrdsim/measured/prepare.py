"""Measured patterns onto the model grid: wavelength, resampling, background, normalisation.

:func:`prepare_pattern` runs, in this order, each step optional and recorded in
``PreparedPattern.metadata["steps"]``:

1. **wavelength conversion** of the 2θ axis from the pattern's λ′ to ``to_wavelength``
   (default 1.5418 Å, Cu Kα of das2025) with :func:`xrdsim.grid.convert_two_theta`;
   points that cannot diffract at λ drop (SPEC §3);
2. **resampling** onto the 12,000-bin grid (centres 0.01·j + 0.005°) by linear
   interpolation between measured points; bins outside the measured range are 0;
3. **background** estimation on the measured bins and subtraction
   (:mod:`xrdsim.measured.background`: SNIP by default, or iterative polynomial);
4. **normalisation** to a maximum of 1, like the simulator's output.

:func:`prepare_files` does this for many files and writes a Zarr v3 store; one bad file
is recorded in the store's error table and never stops the batch.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from xrdsim.errors import ConfigError, DatasetError, PatternReadError, XrdsimError
from xrdsim.grid import BIN_WIDTH, N_BINS, TWO_THETA_MIN, convert_two_theta, grid_centers
from xrdsim.measured.background import (
    METHODS,
    POLY_DEGREE,
    SMOOTH_DEG,
    SNIP_WIDTH_DEG,
    estimate_background,
)
from xrdsim.measured.readers import MeasuredPattern, read_pattern
from xrdsim.plotting import pyplot, save_figure
from xrdsim.wavelengths import DEFAULT_WAVELENGTH, resolve_wavelength

#: Format tag written into the root attributes of stores from :func:`prepare_files`.
STORE_FORMAT = "xrdsim-measured/1"
#: Fewer measured grid bins than this after conversion is refused: nothing to classify.
MIN_MEASURED_BINS = 10
#: A scan whose intensity range is below this fraction of its level is flat, and so is a
#: background-subtracted scan whose maximum is below this fraction of the range (float64
#: rounding residuals are ~1e-13 of it; a real peak is > 1e-3).
FLAT_REL_TOL = 1e-6


@dataclasses.dataclass(frozen=True)
class PreparedPattern:
    """A measured pattern on the model grid.

    Attributes:
        pattern: (12000,) float32, background-subtracted and normalised as asked.
        background: (12000,) float32 background that was subtracted, on the same scale
            as ``pattern`` (zeros when no background step ran).
        measured: (12000,) bool, True for bins inside the measured 2θ range.
        source: the file the pattern came from.
        wavelength: Å of the grid (``to_wavelength``).
        metadata: every step with its settings and results (JSON-serialisable).
    """

    pattern: np.ndarray
    background: np.ndarray
    measured: np.ndarray
    source: str
    wavelength: float
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        for name, dtype in (("pattern", np.float32), ("background", np.float32),
                            ("measured", np.bool_)):
            value = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            if value.shape != (N_BINS,):
                raise ConfigError(f"{name} must have shape ({N_BINS},), got {value.shape}")
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists), inverse of :meth:`from_dict`."""
        out = dataclasses.asdict(self)
        for key in ("pattern", "background", "measured"):
            out[key] = np.asarray(out[key]).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreparedPattern:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**data)


def prepare_pattern(
    pattern: MeasuredPattern,
    *,
    to_wavelength: float | str = DEFAULT_WAVELENGTH,
    background: str | None = "snip",
    width_deg: float = SNIP_WIDTH_DEG,
    degree: int = POLY_DEGREE,
    smooth_deg: float = SMOOTH_DEG,
    clip_negative: bool = False,
    normalise: bool = True,
) -> PreparedPattern:
    """Put one measured pattern on the model grid.

    Args:
        pattern: from :func:`xrdsim.measured.readers.read_pattern`; its wavelength must be known.
        to_wavelength: λ of the grid in Å or a preset name (the model's training λ).
        background: ``"snip"`` (default), ``"poly"`` or None (no subtraction).
        width_deg: SNIP half-window in degrees 2θ (default 1.0°).
        degree: polynomial degree for ``background="poly"``.
        smooth_deg: moving-average width (degrees) applied before background estimation
            only (the returned pattern is not smoothed).
        clip_negative: set values below 0 after background subtraction to 0 (off by
            default; the number of clipped bins is recorded either way).
        normalise: scale the result to a maximum of 1.

    Returns:
        a :class:`PreparedPattern`.

    Raises:
        PatternReadError: unknown wavelength, or a 2θ range that leaves fewer than
            :data:`MIN_MEASURED_BINS` grid bins after conversion.
    """
    _check_settings(background, width_deg, degree, smooth_deg)
    src = pattern.source
    if pattern.wavelength is None:
        raise PatternReadError(src, "the pattern's wavelength is unknown; read it with "
                               "read_pattern(path, wavelength='CuKa1') (CLI --wavelength)")
    try:
        target = resolve_wavelength(to_wavelength)
    except ConfigError as exc:
        raise PatternReadError(src, str(exc)) from None
    steps: list[dict[str, Any]] = []

    # 1. wavelength: 2θ = 2·asin(λ/λ′·sin(2θ′/2)); unreachable points come back NaN
    x = convert_two_theta(pattern.two_theta, from_wavelength=pattern.wavelength,
                          to_wavelength=target)
    y = pattern.intensity
    keep = np.isfinite(x)
    x, y = x[keep], y[keep]
    steps.append({"step": "wavelength", "from": pattern.wavelength, "to": target,
                  "points_dropped": int((~keep).sum())})

    # 2. resample: linear interpolation at bin centres inside [x_min, x_max], 0 outside
    centres = grid_centers()
    lo = int(np.ceil((x[0] - TWO_THETA_MIN) / BIN_WIDTH - 0.5)) if x.size else N_BINS
    hi = int(np.floor((x[-1] - TWO_THETA_MIN) / BIN_WIDTH - 0.5)) if x.size else -1
    lo, hi = max(lo, 0), min(hi, N_BINS - 1)
    if x.size < 2 or hi - lo + 1 < MIN_MEASURED_BINS:
        span = f"{x[0]:.3f}–{x[-1]:.3f}°" if x.size else "nothing"
        raise PatternReadError(
            src, f"after conversion from {pattern.wavelength:g} Å to {target:g} Å the data "
            f"cover {span}, which leaves {max(hi - lo + 1, 0)} of the grid's 0–120° bins; "
            "check the pattern's wavelength (read_pattern(wavelength=...), CLI --wavelength) or "
            "choose to_wavelength (--to-wavelength) to match",
        )
    measured = np.zeros(N_BINS, dtype=bool)
    measured[lo:hi + 1] = True
    values = np.interp(centres[lo:hi + 1], x, y)
    span = _refuse_flat(values, src)
    steps.append({"step": "resample", "method": "linear", "bins": [lo, hi],
                  "two_theta_range": [float(x[0]), float(x[-1])],
                  "native_step_median": float(np.median(np.diff(x)))})

    # 3. background on the measured bins only
    bg = np.zeros(hi - lo + 1)
    if background is not None:
        bg = estimate_background(centres[lo:hi + 1], values, method=background,
                                 width_deg=width_deg, degree=degree, smooth_deg=smooth_deg)
        values = values - bg
        options = {"width_deg": width_deg} if background == "snip" else {"degree": degree}
        steps.append({"step": "background", "method": background, **options,
                      "smooth_deg": smooth_deg, "negative_bins_after": int((values < 0).sum())})
        if not float(values.max()) > FLAT_REL_TOL * span:
            raise PatternReadError(src, f"no point rises above the {background} background by "
                                   f"more than {FLAT_REL_TOL:g} of the intensity range "
                                   f"{span:g}: the scan holds no peak (normalising would blow "
                                   "a rounding residual up to 1)")
    if clip_negative:
        steps.append({"step": "clip_negative", "bins_clipped": int((values < 0).sum())})
        values = np.maximum(values, 0.0)

    # 4. normalisation to max 1
    if normalise:
        peak = float(values.max())
        if not peak > 0:
            raise PatternReadError(src, f"the maximum after background subtraction is {peak:g}"
                                   "; nothing to normalise (try background=None, CLI "
                                   "--background none)")
        values, bg = values / peak, bg / peak
        steps.append({"step": "normalise", "divided_by": peak})

    out = np.zeros(N_BINS, dtype=np.float32)
    out[lo:hi + 1] = values
    full_bg = np.zeros(N_BINS, dtype=np.float32)
    full_bg[lo:hi + 1] = bg
    meta = {"format": pattern.format, "source_wavelength": pattern.wavelength,
            "wavelength_source": pattern.metadata.get("wavelength_source"), "steps": steps}
    return PreparedPattern(out, full_bg, measured, src, target, meta)


def _refuse_flat(values: np.ndarray, src: str) -> float:
    """The intensity range of the resampled points; refuse a flat (constant) scan."""
    span = float(np.ptp(values))
    if not span > FLAT_REL_TOL * float(np.max(np.abs(values))):
        raise PatternReadError(src, f"the scan is flat (every point {float(values[0]):g} within "
                               f"{FLAT_REL_TOL:g} relative): nothing to classify — check that "
                               "the detector counted")
    return span


def _check_settings(background: str | None, width_deg: float, degree: int,
                    smooth_deg: float) -> None:
    """Refuse bad preparation settings before any file is touched."""
    if background is not None and background not in METHODS:
        raise ConfigError(f"background must be one of {METHODS} or None, got {background!r}")
    if not (width_deg > 0 and smooth_deg >= 0 and 0 <= int(degree) <= 20):
        raise ConfigError(f"need width_deg > 0, smooth_deg >= 0 (degrees) and 0 <= degree <= 20; "
                          f"got {width_deg!r}, {smooth_deg!r}, {degree!r}")


@dataclasses.dataclass(frozen=True)
class PrepareSummary:
    """What :func:`prepare_files` did: output path (None: nothing prepared, no store
    written), good sources, errors and warnings."""

    output: str | None
    sources: tuple[str, ...]
    errors: tuple[tuple[str, str], ...]
    warnings: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.output, "n_prepared": len(self.sources),
                "sources": list(self.sources), "errors": [list(e) for e in self.errors],
                "warnings": [list(w) for w in self.warnings]}


def prepare_files(
    paths: Iterable[str | Path],
    output: str | Path,
    *,
    wavelength: float | str | None = None,
    to_wavelength: float | str = DEFAULT_WAVELENGTH,
    background: str | None = "snip",
    width_deg: float = SNIP_WIDTH_DEG,
    degree: int = POLY_DEGREE,
    smooth_deg: float = SMOOTH_DEG,
    clip_negative: bool = False,
    normalise: bool = True,
    overwrite: bool = False,
    plot_dir: str | Path | None = None,
    force_wavelength: bool = False,
    xy_dir: str | Path | None = None,
) -> PrepareSummary:
    """Read and prepare many files into one Zarr v3 store.

    Store layout (group ``measured``, readable with
    ``xarray.open_zarr(output, group="measured")``; dimensions ``pattern``, ``two_theta``,
    ``bound``): ``patterns`` (N, 12000) float32, ``two_theta`` (12000,) float64 bin
    centres in degrees (the coordinate), ``sources`` (N,) str,
    ``wavelengths`` (N,) float64 (λ of each file), ``measured_bins`` (N, 2) int32 (first and
    last measured bin); group attributes ``settings``, ``errors`` [[source, reason]],
    ``warnings`` [[source, message]], ``grid``; root attribute ``format`` =
    :data:`STORE_FORMAT`.

    Args:
        paths: files, folders and glob patterns (:func:`xrdsim.measured.paths.pattern_files`);
            each file's suffix picks its reader.
        output: the ``.zarr`` directory to write; none is written when no file could be
            prepared (the summary lists why).
        wavelength: λ for files that state none (Å or a preset name); where a file states
            its own λ, the file's value wins (with a warning when they differ) unless
            ``force_wavelength``.
        to_wavelength, background, width_deg, degree, smooth_deg, clip_negative, normalise:
            see :func:`prepare_pattern`.
        overwrite: replace an existing store.
        plot_dir: write one before/after PNG per good file there.
        force_wavelength: use ``wavelength`` even for files that state another λ.
        xy_dir: also write each prepared pattern there as ``<index>_<stem>.xy`` (grid
            2θ in degrees and intensity, measured bins only).

    Returns:
        a :class:`PrepareSummary`; failures are listed, not raised.

    Raises:
        ConfigError: bad settings, e.g. a wavelength that is neither a number nor a
            preset name (checked before any file is read).
        DatasetError: ``output`` exists without ``overwrite``.
    """
    from xrdsim.measured.paths import pattern_files
    from xrdsim.outputs import check_replaceable
    from xrdsim.store_lock import store_lock

    output = Path(output)
    if wavelength is not None:
        resolve_wavelength(wavelength)  # a bad name is the user's error, not the files'
    if (output.exists() or output.is_symlink()) and not overwrite:
        raise DatasetError(f"{output} exists; pass overwrite=True (CLI --overwrite) to replace it")
    check_replaceable(output, expected=STORE_FORMAT, command="xrdsim prepare",
                      inputs=[paths] if isinstance(paths, (str, os.PathLike)) else paths)
    settings = {"wavelength": wavelength, "to_wavelength": resolve_wavelength(to_wavelength),
                "background": background, "width_deg": width_deg, "degree": degree,
                "smooth_deg": smooth_deg, "clip_negative": clip_negative, "normalise": normalise}
    _check_settings(background, width_deg, degree, smooth_deg)
    good: list[tuple[MeasuredPattern, PreparedPattern]] = []
    errors: list[tuple[str, str]] = []
    notes: list[tuple[str, str]] = []
    for path in pattern_files(paths):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                measured = read_pattern(path, wavelength=wavelength,
                                        force_wavelength=force_wavelength)
                prepared = prepare_pattern(measured, to_wavelength=to_wavelength,
                                           background=background, width_deg=width_deg,
                                           degree=degree, smooth_deg=smooth_deg,
                                           clip_negative=clip_negative, normalise=normalise)
                good.append((measured, prepared))
            except PatternReadError as exc:
                errors.append((exc.source, exc.reason))
            except XrdsimError as exc:  # e.g. too few points for the polynomial degree
                errors.append((str(path), str(exc)))
            except Exception as exc:  # noqa: BLE001 - one file never stops the batch
                errors.append((str(path), unexpected_reason(exc)))
        notes.extend((str(path), str(w.message)) for w in caught)
    if not good:  # nothing to store: leave no empty store that a corrected rerun trips on
        return PrepareSummary(None, (), tuple(errors), tuple(notes))
    with store_lock(output):
        # written under a temporary name, then renamed over the old store: a full disk
        # or a kill leaves the old store (or none) and no half-written one
        check_replaceable(output, expected=STORE_FORMAT, command="xrdsim prepare",
                          inputs=[paths] if isinstance(paths, (str, os.PathLike)) else paths)
        tmp = output.with_name(f".{output.name}.creating-{os.getpid()}")
        try:
            _write_store(tmp, good, errors, notes, settings)
            if output.is_symlink() or output.is_file():
                output.unlink()
            elif output.exists():
                shutil.rmtree(output)
            os.rename(tmp, output)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DatasetError(f"cannot write {output}: {exc.strerror or exc} (is the disk "
                               "full?); nothing was written — free space and run again") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if xy_dir is not None:
        Path(xy_dir).mkdir(parents=True, exist_ok=True)
        x = grid_centers()
        for i, (m, p) in enumerate(good):
            np.savetxt(Path(xy_dir) / f"{i:04d}_{Path(m.source).stem}.xy",
                       np.column_stack([x[p.measured], p.pattern[p.measured]]), fmt="%.7g",
                       header=f"xrdsim prepare: {m.source}, lambda {p.wavelength} A\n"
                              "2theta intensity")
    if plot_dir is not None:
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
        for i, (m, p) in enumerate(good):
            plot_prepared(m, p, Path(plot_dir) / f"{i:04d}_{Path(m.source).stem}.png")
    return PrepareSummary(str(output), tuple(m.source for m, _ in good), tuple(errors),
                          tuple(notes))


def _write_store(path: Path, good: list, errors: list, notes: list, settings: dict) -> None:
    """Write the prepared patterns as a new Zarr store at ``path`` (must not exist)."""
    import zarr

    from xrdsim.versions import package_versions

    root = zarr.open_group(str(path), mode="w-", zarr_format=3)
    root.attrs.update({"format": STORE_FORMAT, "versions": package_versions()})
    group = root.create_group("measured")
    n = len(good)
    patterns = group.create_array("patterns", shape=(n, N_BINS), dtype="float32",
                                  chunks=(max(1, min(n, 256)), N_BINS),
                                  dimension_names=("pattern", "two_theta"))
    patterns[:] = np.stack([p.pattern for _, p in good])
    coord = group.create_array("two_theta", shape=(N_BINS,), dtype="float64",
                               dimension_names=("two_theta",))
    coord[:] = grid_centers()
    coord.attrs.update({"units": "degree", "long_name": "2θ (bin centre)"})
    group.create_array("sources", shape=(n,), dtype=str, dimension_names=("pattern",))[:] = (
        np.array([m.source for m, _ in good], dtype=object))
    group.create_array("wavelengths", shape=(n,), dtype="float64",
                       dimension_names=("pattern",))[:] = np.array(
        [m.wavelength for m, _ in good], dtype=np.float64)
    bins = np.array([p.metadata["steps"][1]["bins"] for _, p in good], dtype=np.int32)
    group.create_array("measured_bins", shape=(n, 2), dtype="int32",
                       dimension_names=("pattern", "bound"))[:] = bins.reshape(n, 2)
    group.attrs.update({"settings": settings, "errors": [list(e) for e in errors],
                        "warnings": [list(w) for w in notes],
                        "steps": [p.metadata["steps"] for _, p in good],
                        "grid": {"n_bins": N_BINS, "bin_width": BIN_WIDTH,
                                 "two_theta_min": TWO_THETA_MIN}})


def unexpected_reason(exc: BaseException) -> str:
    """Error-table text for an exception no check anticipated (bounded length)."""
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"unexpected {type(exc).__name__} ({first}); please report this file"


def load_prepared(path: str | Path) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Read a store written by :func:`prepare_files`.

    Returns:
        ``(patterns (N, 12000) float32, sources [N str], attrs of the "measured" group)``.

    Raises:
        DatasetError: not a store of format :data:`STORE_FORMAT`.
    """
    import zarr

    try:
        root = zarr.open_group(str(path), mode="r")
        fmt = root.attrs.get("format")
        group = root["measured"]
    except Exception as exc:  # zarr raises several kinds for missing / foreign stores
        raise DatasetError(f"{path}: not a prepared-pattern store ({exc}); write one with "
                           "`xrdsim prepare FILES -o STORE`") from None
    if fmt != STORE_FORMAT:
        raise DatasetError(f"{path}: format {fmt!r}, expected {STORE_FORMAT!r}")
    sources = [str(s) for s in group["sources"][:]]
    return np.asarray(group["patterns"][:], dtype=np.float32), sources, dict(group.attrs)


def plot_prepared(measured: MeasuredPattern, prepared: PreparedPattern, path: str | Path) -> None:
    """Write a PNG: the file as read (top) and the prepared grid pattern (bottom)."""
    x = grid_centers()
    fig, (top, bottom) = pyplot().subplots(2, 1, figsize=(8, 5), sharex=False)
    top.plot(measured.two_theta, measured.intensity, lw=0.6, color="0.2")
    top.set_title(f"{Path(measured.source).name} as read (λ = {measured.wavelength:.5f} Å)",
                  fontsize=9)
    top.set_ylabel("intensity")
    m = prepared.measured
    bottom.plot(x[m], prepared.pattern[m] + prepared.background[m], lw=0.6, color="0.6",
                label="resampled")
    bottom.plot(x[m], prepared.background[m], lw=0.8, color="tab:orange", label="background")
    bottom.plot(x[m], prepared.pattern[m], lw=0.6, color="tab:blue", label="prepared")
    bottom.set_title(f"on the model grid (λ = {prepared.wavelength:.5f} Å)", fontsize=9)
    bottom.set_xlabel("2θ (degrees)")
    bottom.legend(fontsize=7)
    save_figure(fig, path, dpi=110)
