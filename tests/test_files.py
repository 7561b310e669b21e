"""Checks before reading a file."""

from __future__ import annotations

import os

import pytest

from xrdsim.errors import PatternReadError
from xrdsim.files import regular_file_size

FIXES = dict(irregular_fix=" (a device); copy it", too_big="one thing may have; split it")


def test_regular_file_size_is_the_size_of_a_small_regular_file(tmp_path):
    path = tmp_path / "a.xy"
    path.write_bytes(b"1 2\n" * 5)
    assert regular_file_size(path, limit=20, error=PatternReadError, **FIXES) == 20


@pytest.mark.parametrize("case, reason", [
    ("missing", "cannot read the pattern (No such file or directory); try again"),
    ("folder", "not a regular file (a device); copy it"),
    ("fifo", "not a regular file (a device); copy it"),
    ("big", "21 bytes, more than the 20 one thing may have; split it"),
])
def test_regular_file_size_refuses_with_the_reason_and_the_fix(tmp_path, case, reason):
    path = tmp_path / case
    if case == "folder":
        path.mkdir()
    elif case == "fifo":
        os.mkfifo(path)  # opening it would block: refused on stat alone
    elif case == "big":
        path.write_bytes(b"x" * 21)
    with pytest.raises(PatternReadError) as info:
        regular_file_size(path, limit=20, error=PatternReadError, what="pattern",
                          unreadable_fix="; try again", **FIXES)
    assert (info.value.source, info.value.reason) == (str(path), reason)

