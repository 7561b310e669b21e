"""Progress bars for long work, on stderr, switchable off for libraries and tests."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click


class _NullBar:
    def update(self, n: int = 1, current_item: str | None = None) -> None:  # noqa: D401
        """Do nothing (same protocol as click's bar)."""


@contextlib.contextmanager
def progress_bar(total: int, label: str, *, enabled: bool = True) -> Iterator[object]:
    """A progress bar with an ``update(n, current_item=None)`` method, or a silent stand-in.

    ``current_item`` (a short text such as ``"loss 0.4123"``) is shown after the bar.

    Args:
        total: number of steps expected.
        label: text shown before the bar.
        enabled: ``False`` gives a bar that prints nothing (library use, tests).
    """
    if not enabled:
        yield _NullBar()
        return
    with click.progressbar(
        length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True, width=30,
        item_show_func=lambda item: item,
    ) as bar:
        yield bar
