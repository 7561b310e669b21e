"""The model's input view: one function for simulated and measured patterns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xrdsim_training.models.view import COARSE, SPAN_FLOOR, PatternView, snip_batch

from xrdsim.grid import N_BINS, grid_centers
from xrdsim.measured.background import estimate_background


def reference_background(y: np.ndarray, coarse: int = COARSE) -> np.ndarray:
    """NumPy reference of :func:`snip_batch` for one row (edge-extended coarse SNIP)."""
    n = y.size
    nz = np.flatnonzero(np.abs(y) > SPAN_FLOOR * np.abs(y).max())
    lo, hi = nz[0], nz[-1]
    ext = y.astype(np.float64).copy()
    ext[:lo], ext[hi + 1:] = y[lo], y[hi]
    nc = -(-n // coarse)
    ext = np.concatenate([ext, np.full(nc * coarse - n, ext[-1])])
    yc = ext.reshape(nc, coarse).mean(1)
    xc = 0.01 * (coarse * np.arange(nc) + (coarse - 1) / 2) + 0.005
    lo_c, hi_c = lo // coarse, hi // coarse
    bg_c = estimate_background(xc[lo_c:hi_c + 1], yc[lo_c:hi_c + 1], method="snip")
    out = np.zeros(n)
    x = 0.01 * np.arange(n) + 0.005
    out[lo:hi + 1] = np.interp(x[lo:hi + 1], xc[lo_c:hi_c + 1], bg_c)
    return out


def _rows(n: int = 8500) -> tuple[np.ndarray, list[tuple[int, int]]]:
    rng = np.random.default_rng(0)
    spans = [(0, n - 1), (503, 8000), (1000, n - 1), (7, 400)]
    y = np.zeros((len(spans), n))
    for b, (lo, hi) in enumerate(spans):
        t = np.arange(lo, hi + 1)
        y[b, lo:hi + 1] = (0.1 + 0.05 * np.sin(t / 700) + np.exp(-0.5 * ((t - 3000) / 8) ** 2)
                           + 0.3 * np.exp(-0.5 * ((t - lo - 150) / 6) ** 2)
                           + 0.01 * rng.random(t.size))
    return y, spans


def test_batched_snip_matches_the_numpy_reference_row_by_row():
    y, spans = _rows()
    got = snip_batch(torch.tensor(y, dtype=torch.float32)).double().numpy()
    for b, (lo, hi) in enumerate(spans):
        ref = reference_background(y[b])
        assert np.abs(got[b] - ref).max() < 1e-5, b
        assert not got[b, :lo].any() and not got[b, hi + 1:].any()


def test_view_windows_subtracts_clips_and_normalises():
    y, _ = _rows(N_BINS)
    view = PatternView((5.0, 90.0), "snip")(torch.tensor(y, dtype=torch.float32)).numpy()
    x = grid_centers()
    outside = (x < 5.0) | (x > 90.0)
    assert not view[:, outside].any()
    assert view.min() >= 0.0 and np.allclose(view[:3].max(1), 1.0)
    assert not view[3].any()  # a scan of 0.07–4° lies wholly outside the window
    # the slow sine background is gone: far from the peaks the view is near 0
    assert np.median(view[0, (x > 60) & (x < 80)]) < 0.02


def test_view_is_the_same_for_a_scaled_pattern_without_background():
    """Counts or max-1 input give the same view when nothing is subtracted."""
    y, _ = _rows(N_BINS)
    view = PatternView((0.0, 120.0), "none")
    a = view(torch.tensor(y, dtype=torch.float32))
    b = view(torch.tensor(1000.0 * y, dtype=torch.float32))
    assert torch.allclose(a, b, atol=1e-6)
    assert a.shape == (4, N_BINS)


@pytest.mark.parametrize("pool", [1, 2, 3])
def test_cropped_pooled_view_is_the_full_view_cut_and_averaged(pool):
    """crop + pool: the window's bins of the full-grid view, ``pool`` bins averaged (a
    NumPy reference), renormalised to max 1; the length is ⌊8,500 / pool⌋ for 5–90°."""
    y, _ = _rows(N_BINS)
    x = torch.tensor(y, dtype=torch.float32)
    full = PatternView((5.0, 90.0), "snip")(x).double().numpy()
    view = PatternView((5.0, 90.0), "snip", crop=True, pool=pool)
    got = view(x).double().numpy()
    n = 8500 // pool
    assert view.length == n and got.shape == (4, n)
    ref = full[:, 500:500 + n * pool].reshape(4, n, pool).mean(2)
    peak = ref.max(1, keepdims=True)
    ref = np.where(peak > 0, ref / np.where(peak > 0, peak, 1.0), ref)
    assert np.abs(got - ref).max() < 1e-6
    # (B, 1, L) in, (B, 1, L') out: the encoder's channel axis is kept
    assert view(x.unsqueeze(1)).shape == (4, 1, n)


@pytest.mark.parametrize("bad", [(90.0, 5.0), (-1.0, 50.0)])
def test_bad_window_is_refused(bad):
    from xrdsim_training.config import ModelConfig

    from xrdsim.errors import ConfigError

    with pytest.raises(ConfigError, match="view_two_theta"):
        ModelConfig(view_two_theta=bad)


def test_models_saved_before_the_view_keep_their_input():
    from xrdsim_training.config import LEGACY_VIEW, ModelConfig

    old = {k: v for k, v in ModelConfig().to_dict().items() if not k.startswith("view_")}
    legacy = ModelConfig.from_dict(old, saved=True)
    assert (legacy.view_two_theta, legacy.view_background) == \
        (LEGACY_VIEW["view_two_theta"], LEGACY_VIEW["view_background"])
    new = ModelConfig()
    assert ModelConfig.from_dict(new.to_dict()) == new
    assert ModelConfig.from_dict(new.to_dict(), saved=True) == new
    assert (new.view_two_theta, new.view_background) == ((5.0, 90.0), "snip")
    # new settings without view keys (flags, a user's file) get the default view, not
    # the legacy one: every CLI run trained on the whole grid without SNIP until this
    assert ModelConfig.from_dict(old) == new
    # runs saved before the input grid existed keep every 0.01° bin (today's default);
    # a cropped, pooled model keeps its grid through a save
    grid = {k: v for k, v in new.to_dict().items() if k not in ("view_crop", "view_pool")}
    kept = ModelConfig.from_dict(grid, saved=True)
    assert (kept.view_crop, kept.view_pool) == (False, 1)
    pooled = ModelConfig(view_crop=True, view_pool=2)
    assert ModelConfig.from_dict(pooled.to_dict(), saved=True) == pooled


def test_flags_and_user_config_files_get_the_default_view(tmp_path):
    from xrdsim_training.config import config_from_options, load_train_config

    for cfg in (config_from_options({}), config_from_options({"width": 4, "depth": 2}),
                config_from_options({"epochs": 2}, base=load_train_config(
                    _write(tmp_path / "user.yaml", "epochs: 3\nmodel:\n  width: 4\n")))):
        assert (cfg.model.view_two_theta, cfg.model.view_background) == ((5.0, 90.0), "snip")
    run_config = _write(tmp_path / "config.json", '{"model": {"width": 4}}')
    saved = load_train_config(run_config, saved=True).model
    assert (saved.view_two_theta, saved.view_background) == ((0.0, 120.0), "none")


def _write(path, text):
    path.write_text(text)
    return path
