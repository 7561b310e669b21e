"""The README's results table is the rendering of benchmarks/results/readme_table.json."""

from __future__ import annotations

import json

import pytest
from conftest import benchmark_script


def _script():
    return benchmark_script("experiments/readme_table.py")


def test_readme_table_is_the_rendering_of_its_json():
    script = _script()
    table = json.loads(script.TABLE.read_text(encoding="utf-8"))
    assert script.readme_block(script.README.read_text(encoding="utf-8")) == \
        script.render(table)


def test_render_pins_a_row_and_refuses_a_short_one():
    script = _script()
    table = {"columns": ["model", "a", "b"],
             "rows": [{"model": "m", "note": False, "values": [[1, 2, 3], [40, 20, 20]]},
                      {"model": "n", "note": True, "values": [[5, 6, 7], [8, 9, 10]]}]}
    assert script.render(table).splitlines() == [
        "| model | a | b |", "|---|---|---|", "| m | 1 / 2 / 3 | 40 / 20 / 20 |",
        "| *n* | *5 / 6 / 7* | *8 / 9 / 10* |"]
    table["rows"][0]["values"].pop()
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        script.render(table)
