"""A tiny series run end to end: store → series train → series predict / series evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training.series.predict import predict_series

from xrdsim.errors import TrainingError
from xrdsim.series.config import SeriesConfig
from xrdsim.series.simulate import simulate_series
from xrdsim.series.store import write_series
from xrdsim.structures.reader import read_structures

NIO = Path(__file__).resolve().parents[2] / "data" / "cifs" / "NiO_225_sym.cif"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    nio = next(iter(read_structures(str(NIO)))).structure
    cfg = SeriesConfig(n_steps=30, transition_width=(0.1, 0.2), transition_at=(0.4, 0.6))
    path = tmp_path_factory.mktemp("series") / "s.zarr"
    series = [
        simulate_series(nio, name=f"nio{i}", config=cfg, seed=i, structure_id="NiO")
        for i in range(2)
    ]
    write_series(path, series)
    return path


def test_train_predict_evaluate(store, tmp_path):
    run = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "series",
            "train",
            str(store),
            "-o",
            str(run),
            "--method",
            "specrrmoco",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output[res.output.index("{") :])
    assert info["patterns"] == 60 and info["labelled"] == 6  # one per (series, class) cell
    # the old spelling still runs this release: the same command, after one warning line
    again = runner.invoke(cli, ["series-train", str(store), "-o", str(run)])
    assert again.exit_code == 3 and "exists" in again.output
    assert again.stderr.startswith("warning: `xrdsim series-train` is deprecated and goes in "
                                   "the next release; use `xrdsim series train`\n")

    pred = predict_series(run, store, "nio0")
    assert len(pred["classes"]) == 30 and set(pred["classes"]) <= {"before", "during", "after"}
    np.testing.assert_allclose(np.sum(pred["probabilities"], axis=1), 1.0, atol=1e-3)
    assert 0.0 <= pred["accuracy"] <= 1.0 and len(pred["true_transition"]) == 2
    own = predict_series(run, store, "nio0", label_fraction=0.027)
    assert len(own["labelled"]) == 3  # one per class, scored on the other 27
    assert pred["labelled"] == []

    out = tmp_path / "pred"
    res = runner.invoke(
        cli, ["series", "predict", str(run), str(store), "--series", "nio1", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert (out / "nio1.json").exists() and (out / "nio1.png").stat().st_size > 1000

    table = tmp_path / "table.json"
    res = runner.invoke(cli, ["series", "evaluate", str(store), "--run", str(run), "-o",
                              str(table)])
    assert res.exit_code == 0, res.output
    rows = json.loads(table.read_text())["rows"]
    assert set(rows) == {
        "spectral clustering",
        "linear (patterns)",
        "specrrmoco",
        "specrrmoco + spectral clustering",
        "specrrmoco (training-series classifier)",
    }
    assert all(len(v) == 2 for v in rows.values())


def test_predict_refuses_a_folder_without_a_run(store, tmp_path):
    with pytest.raises(TrainingError, match="no series run"):
        predict_series(tmp_path, store, "nio0")
