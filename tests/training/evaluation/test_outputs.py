"""What people expect to see: the loss on the progress bar, named and scaled figures
(issue 15, item 18)."""

from __future__ import annotations

import contextlib

import matplotlib.figure
import pytest
import training_store
from xrdsim_training import trainer
from xrdsim_training.config import TrainConfig
from xrdsim_training.evaluation.evaluate import evaluate_run

from xrdsim.dataset.inspect import plot_examples
from xrdsim.structures.crystal_systems import CRYSTAL_SYSTEMS

built_store = training_store.built_store  # the session's small real store (fixture)
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"width": 4, "depth": 2, "embed_dim": 16, "projector_dim": 32, "pool_length": 4}


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib figure saved during the test, by file name."""
    saved: dict[str, matplotlib.figure.Figure] = {}
    real = matplotlib.figure.Figure.savefig

    def record(fig, path, *args, **kwargs):
        saved[str(path).rsplit("/", 1)[-1]] = fig
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    return saved


def test_item18_training_progress_bar_shows_the_loss(built_store, tmp_path, monkeypatch):
    shown: list[str] = []

    class Bar:
        def update(self, n=1, current_item=None):
            shown.append(current_item)

    @contextlib.contextmanager
    def fake_bar(total, label, *, enabled=True):
        yield Bar()

    monkeypatch.setattr(trainer, "progress_bar", fake_bar)
    config = TrainConfig.from_dict(dict(epochs=1, batch_size=16, shuffle_buffer=48, model=TINY,
                                        val_max_patterns=0))
    result = trainer.train(config, run_dir=tmp_path / "run", data=built_store)
    assert shown and all(s.startswith("loss ") for s in shown)
    assert float(shown[-1].split()[1]) == pytest.approx(result.history[0]["loss"], rel=1e-3)


def test_item18_figures_name_the_classes_and_have_colour_bars(built_store, tmp_path,
                                                             saved_figures):
    config = TrainConfig.from_dict(dict(epochs=1, batch_size=16, shuffle_buffer=48, model=TINY,
                                        val_max_patterns=0))
    trainer.train(config, run_dir=tmp_path / "run", data=built_store, progress=False)
    evaluate_run(tmp_path / "run", data=built_store, splits=("equivariance",),
                 block_split="equivariance", block_structures=3)
    confusion = saved_figures["confusion_cs.png"]
    image_axes = [ax for ax in confusion.axes if ax.images]
    colour_bars = [ax for ax in confusion.axes if not ax.images]
    assert len(image_axes) == len(colour_bars) == 1
    assert [t.get_text() for t in image_axes[0].get_xticklabels()] == list(CRYSTAL_SYSTEMS)
    assert [t.get_text() for t in image_axes[0].get_yticklabels()] == list(CRYSTAL_SYSTEMS)
    assert len(saved_figures["block_similarity_equivariance.png"].axes) == 2  # + colour bar
    plot_examples(built_store, tmp_path / "example.png")
    title = saved_figures["example.png"]._suptitle.get_text()
    assert any(name in title for name in CRYSTAL_SYSTEMS) and "space group" in title
