"""Checks before reading a file, and JSON results written the one way."""

from __future__ import annotations

import os

import pytest

from xrdsim.errors import PatternReadError
from xrdsim.files import regular_file_size, write_json

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


def test_write_json_makes_the_folder_and_writes_indented_utf8_with_a_final_newline(tmp_path):
    data = {"λ": 1.5406, "rows": [1, 2]}
    path = write_json(tmp_path / "new" / "r.json", data, indent=1, ensure_ascii=False)
    assert path.read_bytes() == '{\n "λ": 1.5406,\n "rows": [\n  1,\n  2\n ]\n}\n'.encode()
    assert write_json(path, data).read_bytes() == (
        b'{\n  "\\u03bb": 1.5406,\n  "rows": [\n    1,\n    2\n  ]\n}\n')
