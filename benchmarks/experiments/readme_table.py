"""The README's one results table, rendered from ``benchmarks/results/readme_table.json``.

    python benchmarks/experiments/readme_table.py           # print the table
    python benchmarks/experiments/readme_table.py --write   # put it into README.md

The JSON holds the numbers (accuracy in % as CS / EG / SG per split, copied from the result
files it names under ``sources``); README.md holds the rendering between the two marker
comments, and ``tests/benchmarks/test_readme_table.py`` fails when they differ, so the
table is changed by editing the JSON and running ``--write``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "benchmarks" / "results" / "readme_table.json"
README = REPO / "README.md"
BEGIN = ("<!-- results table: written by benchmarks/experiments/readme_table.py from "
         "benchmarks/results/readme_table.json; edit the JSON, not this table -->")
END = "<!-- end of results table -->"


def render(table: dict) -> str:
    """Markdown of ``table``: a header row, then one row per model; ``note`` rows (ablations,
    longer runs) in italics. A cell is a CS / EG / SG triple or a string ("—": not
    measured)."""
    lines = ["| " + " | ".join(table["columns"]) + " |",
             "|" + "---|" * len(table["columns"])]
    for row in table["rows"]:
        cells = [row["model"], *(" / ".join(str(v) for v in cell) if isinstance(cell, list)
                                 else str(cell) for cell in row["values"])]
        if len(cells) != len(table["columns"]):
            raise ValueError(f"row {row['model']!r} has {len(cells)} cells for "
                             f"{len(table['columns'])} columns")
        if row["note"]:
            cells = [f"*{c}*" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def marked_block(text: str, begin: str, end: str, source: Path) -> str:
    """The part of ``text`` (of ``source``) between the markers ``begin`` and ``end``."""
    if begin not in text or end not in text:
        raise ValueError(f"{source} lacks the markers {begin!r} … {end!r}")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def replace_marked(path: Path, begin: str, end: str, body: str) -> None:
    """Put ``body`` between the markers of the file ``path``."""
    text = path.read_text(encoding="utf-8")
    marked_block(text, begin, end, path)  # both markers are there
    head, rest = text.split(begin, 1)
    path.write_text(f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")


def readme_block(text: str) -> str:
    """The part of README text between the markers (without them)."""
    return marked_block(text, BEGIN, END, README)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args(argv)
    table = render(json.loads(TABLE.read_text(encoding="utf-8")))
    if not args.write:
        print(table)
        return
    replace_marked(README, BEGIN, END, table)


if __name__ == "__main__":
    main()
