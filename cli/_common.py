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


@contextlib.contextmanager
def library_errors() -> Iterator[None]:
    """Turn an :class:`XrdsimError` into a one-line message and exit code 3."""
    try:
        yield
    except XrdsimError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_LIBRARY_ERROR)


def handles_library_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator form of :func:`library_errors` for click command callbacks."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with library_errors():
            return func(*args, **kwargs)

    return wrapper


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
