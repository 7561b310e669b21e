"""Progress bars for long work, on stderr, switchable off for libraries and tests."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click


class _NullBar:
    def update(self, n: int = 1) -> None:  # noqa: D401 - same protocol as click's bar
        """Do nothing."""


@contextlib.contextmanager
def progress_bar(total: int, label: str, *, enabled: bool = True) -> Iterator[object]:
    """A progress bar with an ``update(n)`` method, or a silent stand-in.

    Args:
        total: number of steps expected.
        label: text shown before the bar.
        enabled: ``False`` gives a bar that prints nothing (library use, tests).
    """
    if not enabled:
        yield _NullBar()
        return
    with click.progressbar(
        length=total, label=label, file=sys.stderr, show_eta=True, show_pos=True, width=30
    ) as bar:
        yield bar
