"""Helpers shared by the sub-commands: error reporting and exit codes."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from xrdsim.errors import XrdsimError

#: Exit code when a batch ran but some inputs failed.
EXIT_PARTIAL = 1
#: Exit code for a library error (bad config, refused resume, unreadable store, ...).
EXIT_LIBRARY_ERROR = 3
#: Exit code after Ctrl-C (SIGINT): 128 + the signal's number, the shells' convention.
EXIT_INTERRUPTED = 128 + 2


@contextlib.contextmanager
def library_errors(*, interrupted: str = "") -> Iterator[None]:
    """Turn an :class:`XrdsimError` into a one-line message and exit code 3, and Ctrl-C
    into one line (``interrupted: …``, e.g. how to resume) and exit code 130."""
    try:
        yield
    except XrdsimError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LIBRARY_ERROR)
    except KeyboardInterrupt:
        click.echo(f"interrupted{': ' + interrupted if interrupted else ''}", err=True)
        sys.exit(EXIT_INTERRUPTED)


def handles_library_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`library_errors` for click command callbacks."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with library_errors():
            return func(*args, **kwargs)

    return wrapper


def existing_inputs(paths: Any, *, param: str = "FILES", kind: str = "patterns") -> list[str]:
    """``paths`` as given, after checking each names something the command can read.

    One rule for every command that takes input paths: a missing path, a glob pattern
    without match, or a folder that holds nothing of ``kind`` (``"patterns"``: no file at
    all; ``"structures"``: no ``.cif`` / ``.csv`` / ``.csv.gz`` file, sub-folders
    included) is a usage error — exit code 2, one line naming it, nothing written.
    """
    from pathlib import Path

    from xrdsim.measured.paths import missing_inputs

    missing = missing_inputs(paths)
    if missing:
        raise click.BadParameter(f"no such file, folder or glob match: {', '.join(missing)}",
                                 param_hint=param)
    if kind == "structures":
        from xrdsim.structures.sources import structure_files_in as contents
        what = "no .cif, .csv or .csv.gz file (sub-folders included)"
    else:
        from xrdsim.measured.paths import pattern_files

        def contents(folder):
            return pattern_files([folder])
        what = "no file"
    empty = [str(p) for p in paths if Path(p).is_dir() and not contents(Path(p))]
    if empty:
        raise click.BadParameter(f"{', '.join(empty)}: folder holds {what}; nothing to read",
                                 param_hint=param)
    return [str(p) for p in paths]


def warn_deprecated(old: str, new: str) -> None:
    """One line on stderr: the spelling ``xrdsim OLD`` still runs in this release only."""
    click.echo(f"warning: `xrdsim {old}` is deprecated and goes in the next release; "
               f"use `xrdsim {new}`", err=True)


def echo_warning(source: str, message: str) -> None:
    """``warning: SOURCE: message`` on stderr, the source once (readers' warnings already
    start with the file)."""
    text = message if message.startswith(source) else f"{source}: {message}"
    click.echo(f"warning: {text}", err=True)


@contextlib.contextmanager
def echoed_warnings(*, at_once: bool = False) -> Iterator[None]:
    """Print the library's ``UserWarning`` s as ``warning: …`` lines (no Python source-file
    prefix), after the block (``at_once``: as they are raised, e.g. before a long training
    phase that a warning is about)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if at_once:
            warnings.showwarning = lambda message, *_a, **_k: click.echo(
                f"warning: {message}", err=True)
        yield
    for w in caught:
        if issubclass(w.category, UserWarning):
            click.echo(f"warning: {w.message}", err=True)


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
