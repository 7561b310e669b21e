"""One writer per store: an exclusive lock file beside it, with stale-lock detection.

``build_dataset`` holds ``<store>.lock`` (JSON: pid, host, start time) from before it
looks at the store until it returns. A second build, resume or overwrite of the same
store is refused while the lock is held — it would delete the first one's in-flight
files. A lock left by a process that no longer runs on this host is stale and taken
over; a lock from another host cannot be checked and is refused with the fix.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xrdsim.errors import DatasetError
from xrdsim.parallel import pid_alive

LOCK_SUFFIX = ".lock"


def lock_path(store: str | os.PathLike) -> Path:
    store = Path(store)
    return store.with_name(store.name + LOCK_SUFFIX)


def _holder(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def store_lock(store: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive writer lock of ``store`` for the ``with`` block.

    Raises:
        DatasetError: another live process (or another host) holds the lock.
    """
    path = lock_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None or (holder.get("host") == me["host"]
                                  and not pid_alive(int(holder.get("pid", -1)))):
                path.unlink(missing_ok=True)  # stale: its writer is gone (or never wrote it)
                continue
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
            raise DatasetError(
                f"{store} is being written by pid {holder.get('pid')} on host "
                f"{holder.get('host')!r} (since {since}); wait for it, or, if no such build "
                f"runs any more, delete {path}") from None
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        break
    else:
        raise DatasetError(f"could not take the lock {path}; another writer keeps taking it")
    try:
        yield path
    finally:
        holder = _holder(path)
        if holder is not None and holder.get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


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


def lock_holder(store: str | os.PathLike) -> str | None:
    """Who holds the writer lock of ``store`` ("pid N on host H"), or None when no live
    writer does (no lock, or a stale one of a dead process on this host)."""
    path = lock_path(store)
    if not (path.exists() or path.is_symlink()):
        return None
    holder = _holder(path)
    if holder is None:
        return f"an unreadable lock file {path}"
    pid = holder.get("pid")
    if holder.get("host") == socket.gethostname() and (
            pid == os.getpid() or (isinstance(pid, int) and not _pid_alive(pid))):
        return None  # this process's own lock, or a dead process's
    return f"pid {pid} on host {holder.get('host')!r}, lock file {path}"
