"""Figures are drawn without a display and saved by one helper."""

from __future__ import annotations

import matplotlib

from xrdsim.plotting import pyplot, save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_pyplot_draws_on_the_headless_agg_backend():
    plt = pyplot()
    assert plt.__name__ == "matplotlib.pyplot"
    assert matplotlib.get_backend().lower() == "agg"


def test_save_figure_makes_the_folder_writes_at_the_dpi_and_closes(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2.0, 1.5))
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, str(tmp_path / "new" / "deeper" / "line.png"), dpi=50)
    assert path == tmp_path / "new" / "deeper" / "line.png"
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    # IHDR width and height (big-endian, bytes 16-24): 2.0 x 1.5 inches at 50 dpi
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (100, 75)
    assert fig.number not in plt.get_fignums()
