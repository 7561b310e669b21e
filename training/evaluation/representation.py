"""t-SNE maps of the representation ``h``, coloured by crystal system, with silhouettes.

das2025 judge DIFCON's representation by whether crystal systems separate in it on the
equivariance split *and* stay separated on the invariance split (new instrument
effects). :func:`representation_maps` embeds evenly spaced patterns of each split,
computes the cosine silhouette by crystal system (and by structure), and draws the 2-D
t-SNE (scikit-learn, cosine metric, perplexity :data:`PERPLEXITY`) of each split side by
side in one figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from xrdsim.plotting import pyplot, save_figure

#: t-SNE perplexity (scikit-learn's default, 30, suits a few hundred points).
PERPLEXITY = 30.0


def representation_maps(model: torch.nn.Module, *, data: str | Path, splits: tuple[str, ...],
                        max_points: int, device: torch.device, figure: Path, seed: int = 0
                        ) -> dict[str, Any]:
    """Silhouettes and t-SNE coordinates of ``h`` on each split; writes ``figure``.

    Returns:
        ``{"figure", "splits": {split: {"n", "silhouette_structure",
        "silhouette_crystal_system"}}}``.
    """
    from sklearn.manifold import TSNE
    from torch.utils.data import DataLoader
    from xrdsim_training.data.store import open_split
    from xrdsim_training.data.zarr_stream import ZarrStreamDataset
    from xrdsim_training.inference import predict

    out: dict[str, Any] = {"figure": str(figure), "splits": {}}
    maps = {}
    for split in splits:
        rows = open_split(data, split).complete_rows()
        if rows.size > max_points:
            rows = rows[np.linspace(0, rows.size - 1, max_points).astype(np.int64)]
        dataset = ZarrStreamDataset(data, split, batch_size=256, shuffle=False,
                                    drop_last=False, rows=rows, dtype="native")
        pred = predict(model, DataLoader(dataset, batch_size=None), device=device,
                       embeddings=True)
        h = pred.embeddings.astype(np.float64)
        perplexity = min(PERPLEXITY, max(2.0, (len(h) - 1) / 3.0))
        xy = TSNE(n_components=2, metric="cosine", perplexity=perplexity, init="pca",
                  random_state=seed).fit_transform(h)
        maps[split] = (xy, pred.labels["crystal_system"])
        out["splits"][split] = {"n": int(len(h)), **silhouettes(h, pred.labels)}
    _figure(maps, out["splits"], figure)
    return out


def _figure(maps: dict, scores: dict, path: Path) -> None:
    plt = pyplot()

    from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

    fig, axes = plt.subplots(1, len(maps), figsize=(4.6 * len(maps), 4.4), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, (split, (xy, cs)) in zip(axes[0], maps.items(), strict=True):
        for c, name in enumerate(CRYSTAL_SYSTEMS):
            m = cs == c
            if m.any():
                ax.scatter(xy[m, 0], xy[m, 1], s=6, color=colours(c), label=name)
        ax.set_title(f"{split}: silhouette CS "
                     f"{scores[split]['silhouette_crystal_system']:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7, markerscale=2)
    save_figure(fig, path, dpi=120)


def silhouettes(embeddings: np.ndarray, labels: dict[str, np.ndarray]) -> dict[str, float]:
    """Cosine silhouette scores of ``h`` grouped by structure and by crystal system.

    ``silhouette_structure`` near 1: the views of a structure cluster apart from other
    structures (invariance to the simulated effects); ``silhouette_crystal_system``: the
    crystal systems separate. NaN where a grouping has a single class.
    """
    from sklearn.metrics import silhouette_score

    out = {}
    for name, key in (("silhouette_structure", "structure_index"),
                      ("silhouette_crystal_system", "crystal_system")):
        groups = labels[key]
        n = np.unique(groups).size
        ok = 1 < n < len(groups)
        out[name] = float(silhouette_score(embeddings, groups, metric="cosine")) if ok \
            else float("nan")
    return out
