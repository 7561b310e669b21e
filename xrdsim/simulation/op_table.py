"""The op table of docs/simulation.md, generated from the catalogue's own descriptions.

Each row is one :class:`~xrdsim.simulation.ops.OpSpec` of :data:`~xrdsim.simulation.ops.OPS`
in execution order: its parameters (name, meaning and allowed range of every
:class:`~xrdsim.simulation.ops.ParamSpec`, then its settings with their defaults) and its
``doc``. Rewrite the table after changing the catalogue with::

    python -m xrdsim.simulation.op_table docs/simulation.md

(``tests/simulation/test_op_catalogue.py`` fails while the doc and the catalogue differ).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from xrdsim.simulation.ops import OPS, OpSpec, ParamSpec

BEGIN = "<!-- op table: generated from xrdsim.simulation.ops.OPS by `python -m xrdsim.simulation.op_table docs/simulation.md`; edit the catalogue, not this table -->"  # noqa: E501
END = "<!-- end of the generated op table -->"


def _number(x: float) -> str:
    return f"{x:g}".replace("-", "−")


def _param(p: ParamSpec) -> str:
    kind = "per item, " if p.per_peak else ""
    kind += "integer, " if p.integer else ""
    span = f"±{_number(p.hi)}" if p.symmetric else f"{_number(p.lo)}–{_number(p.hi)}"
    return f"`{p.name}` {p.meaning} ({kind}{span})"


def _setting(name: str, value: Any) -> str:
    return f"setting `{name}` = `{json.dumps(value, separators=(',', ':'))}`"


def _row(number: int, op: OpSpec) -> str:
    parts = [_param(p) for p in op.params] + [_setting(k, v) for k, v in op.settings.items()]
    name = f"`{op.name}`" + (" (always on)" if op.always_on else "")
    cells = [str(number), name, "; ".join(parts) or "–", op.doc]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown_table() -> str:
    """The op table (Markdown, header included, no trailing newline)."""
    rows = ["| # | op | parameters (meaning, range) and settings (default) | what it does |",
            "|---|---|---|---|"]  # fmt: skip
    rows += [_row(n, op) for n, op in enumerate(OPS, start=1)]
    return "\n".join(rows)


def documented_table(doc: str) -> str:
    """The table between the :data:`BEGIN` and :data:`END` markers of ``doc``."""
    head, sep, rest = doc.partition(BEGIN + "\n")
    if not sep or END not in rest:
        raise ValueError(f"no generated op table (markers {BEGIN!r} … {END!r}) in the doc")
    return rest.partition("\n" + END)[0]


def rewrite(path: Path) -> bool:
    """Replace the table of the doc at ``path``; True when it changed."""
    doc = path.read_text(encoding="utf-8")
    old = documented_table(doc)
    if old == markdown_table():
        return False
    head, _, rest = doc.partition(BEGIN + "\n")
    tail = rest.partition("\n" + END)[2]
    path.write_text(head + BEGIN + "\n" + markdown_table() + "\n" + END + tail, encoding="utf-8")
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["docs/simulation.md"]:
        print(f"{arg}: {'rewritten' if rewrite(Path(arg)) else 'up to date'}")
