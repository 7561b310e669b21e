"""One writer per store: an exclusive ``fcntl.flock`` on a lock file beside it.

``build_dataset`` (and ``prepare``) hold ``<store>.lock`` from before they look at the
store until they return. The lock is the kernel's: ``flock(LOCK_EX | LOCK_NB)`` on the
file, so exactly one process holds it and it is released when that process ends, killed
or not — no stale lock to detect, no window in which a contender reads a half-written
holder and takes over (issue 30: two holders in 16–26 of 40 rounds with 6 processes).
The file's content (JSON: pid, host, start time) only says who holds it. The lock file is
named after the store's resolved real path, so a symlinked store name locks the same
store. A lock path that is a folder, a link or unreadable is a clear error with the fix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import inspect
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xrdsim.errors import DatasetError, brief

LOCK_SUFFIX = ".lock"
#: Lock files held by this process (a second ``flock`` from it would conflict with itself).
_HELD: set[Path] = set()
#: Attempts when the lock file is replaced between opening and locking it.
_ATTEMPTS = 10


def lock_path(store: str | os.PathLike) -> Path:
    """``<store>.lock`` beside the store's resolved real path (symlinks followed)."""
    real = Path(store).resolve()
    return real.with_name(real.name + LOCK_SUFFIX)


def _open(path: Path, flags: int) -> int:
    """Open the lock file (never through a link), or raise the error with its fix."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            why = "is a folder"
        elif exc.errno == errno.ELOOP:
            why = "is a symbolic link"
        else:
            why = f"cannot be opened ({exc.strerror})"
        raise DatasetError(f"the store lock {path} {why}; no xrdsim writer makes one like "
                           f"that — remove it (rm -r {path}) and run again") from None


def _describe(fd: int, path: Path) -> str:
    """Who holds the lock, from the file's content (informational only)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        return f"another process (lock file {path})"
    started = data.get("started")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(
        started, (int, float)) and 0 <= started < 1e11 else "?"
    return (f"pid {brief(data.get('pid'))} on host {brief(data.get('host'))} (since {since}; "
            f"lock file {path})")


@contextlib.contextmanager
def store_lock(store: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive writer lock of ``store`` for the ``with`` block.

    Raises:
        DatasetError: another process (or another open of this one) holds the lock, or
            the lock path is a folder, a link or unreadable.
    """
    path = lock_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        fd = _open(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(fd, path)
            os.close(fd)
            raise DatasetError(f"{store} is being written by {holder}; wait for it to "
                               "finish") from None
        try:  # the previous holder may have removed the file between our open and flock
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise DatasetError(f"could not take the lock {path}; other writers keep replacing it")
    try:
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                         "started": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        _HELD.add(path)
        yield path
    finally:
        _HELD.discard(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still holding it: a waiting contender then retries
        os.close(fd)


def lock_holder(store: str | os.PathLike) -> str | None:
    """Who holds the writer lock of ``store``, or None when no other process does (no lock
    file, a file nobody holds, or this process's own lock)."""
    path = lock_path(store)
    if path in _HELD or not (path.exists() or path.is_symlink()):
        return None
    fd = _open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe(fd, path)
        return None
    finally:
        os.close(fd)


def holds_store_lock(argument: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run the function while holding the lock of its ``argument`` store."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            with store_lock(bound.arguments[argument]):
                return func(*args, **kwargs)

        return wrapper

    return decorate
