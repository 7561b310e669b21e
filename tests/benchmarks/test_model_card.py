"""docs/model_card.md shows the numbers of the model the package ships: its generated part
is the rendering of the bundled file's header and of a rruff_dev report of that very file."""

from __future__ import annotations

import json

from conftest import benchmark_script
from xrdsim_training.measured.model_file import BUNDLED_MODEL, file_sha256, read_model_file


def _script():
    return benchmark_script("experiments/model_card.py")


def test_the_card_is_the_rendering_of_the_bundled_file_and_its_report():
    script = _script()
    assert script.MODEL == BUNDLED_MODEL
    report = json.loads(script.REPORT.read_text(encoding="utf-8"))
    sha = file_sha256(BUNDLED_MODEL)
    assert report["model_sha256"] == sha, "the report scores another file: run --evaluate"
    assert report["n"] + len(report["errors"]) == 456  # all of rruff_dev
    card = script.CARD.read_text(encoding="utf-8")
    assert script.card_block(card) == script.render(
        script.model_header(), report, sha256=sha, size=BUNDLED_MODEL.stat().st_size)


def test_the_bundled_file_reads_and_is_small():
    loaded = read_model_file(BUNDLED_MODEL, device="cpu")
    assert loaded.temperatures is not None and loaded.header["training_command"]
    assert BUNDLED_MODEL.stat().st_size < 20 * 2**20  # issue 27: at most 20 MB
