"""Plain files on disk: what a reader checks before it opens one, how JSON results are written.

Readers of untrusted files (measured patterns, model files) refuse devices, FIFOs and
sockets before opening them — reading ``/dev/zero`` never ends, a FIFO blocks forever —
and refuse a file larger than anything they read could be, unread. JSON results (a run's
``config.json`` and reports, a mix recipe, benchmark records) are written as UTF-8,
indented, with a final newline.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any


def regular_file_size(path: str | os.PathLike, *, limit: int,
                      error: Callable[[str, str], Exception], what: str = "file",
                      unreadable_fix: str = "", irregular_fix: str, too_big: str) -> int:
    """The size in bytes of ``path``, a regular file of at most ``limit`` bytes.

    Checked on ``os.stat`` alone (symbolic links followed), before the file is opened.

    Args:
        error: builds the exception from ``(source, reason)`` (a sourced xrdsim error).
        what: the file's kind in the unreadable message: ``"cannot read the <what> (why)"``.
        unreadable_fix: appended to that message (``"; give …"``), empty for none.
        irregular_fix: appended to ``"not a regular file"``.
        too_big: ends ``"<size> bytes, more than the <limit> "``: what the limit stands for
            and the fix.

    Raises:
        The exception ``error`` builds: ``path`` cannot be stat'ed, is not a regular file, or
        is larger than ``limit``.
    """
    src = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(src, f"cannot read the {what} ({exc.strerror or exc}){unreadable_fix}"
                    ) from None
    if not stat.S_ISREG(info.st_mode):
        raise error(src, f"not a regular file{irregular_fix}")
    if info.st_size > limit:
        raise error(src, f"{info.st_size} bytes, more than the {limit} {too_big}")
    return info.st_size


def write_json(path: str | os.PathLike, data: Any, *, indent: int = 2,
               ensure_ascii: bool = True) -> Path:
    """Write ``data`` to ``path`` as indented JSON (UTF-8, final newline); its folder is made.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n",
                    encoding="utf-8")
    return path
