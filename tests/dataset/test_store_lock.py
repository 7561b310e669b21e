"""The store lock is exclusive (issue 30): a kernel ``flock``, keyed on the real path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from xrdsim.errors import DatasetError
from xrdsim.store_lock import lock_holder, lock_path, store_lock

_HOLD = textwrap.dedent("""
    import sys, time
    from xrdsim.store_lock import store_lock
    with store_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def holder():
    """Start a process that holds the lock of a store; yields (process, store)."""
    started = []

    def start(store):
        proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(store)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_contenders_never_hold_the_lock_together(tmp_path):
    """6 processes × 40 rounds: whoever holds the lock creates a marker with O_EXCL, which
    fails if a second holder exists (before: two holders in 16–26 of 40 rounds)."""
    script = textwrap.dedent(f"""
        import os, sys
        from xrdsim.store_lock import store_lock
        from xrdsim.errors import DatasetError
        store, marker = {str(tmp_path / 'd.zarr')!r}, {str(tmp_path / 'marker')!r}
        held = clashes = 0
        for _ in range(40):
            try:
                with store_lock(store):
                    held += 1
                    try:
                        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                    except FileExistsError:
                        clashes += 1
                        continue
                    os.close(fd)
                    os.unlink(marker)
            except DatasetError:
                pass
        print(held, clashes)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True) for _ in range(6)]
    results = [tuple(map(int, p.communicate(timeout=300)[0].split())) for p in procs]
    assert sum(h for h, _ in results) > 0
    assert sum(c for _, c in results) == 0, results
    assert not lock_path(tmp_path / "d.zarr").exists()


def test_symlinked_store_name_takes_the_same_lock(tmp_path, holder):
    real = tmp_path / "real.zarr"
    real.mkdir()
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    holder(real)
    with pytest.raises(DatasetError, match="being written by pid"):
        with store_lock(link):
            pass
    assert lock_holder(link) is not None and lock_holder(real) is not None


def test_a_killed_holder_releases_the_lock(tmp_path, holder):
    proc = holder(tmp_path / "d.zarr")
    with pytest.raises(DatasetError, match=f"being written by pid {proc.pid}"):
        with store_lock(tmp_path / "d.zarr"):
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert lock_holder(tmp_path / "d.zarr") is None
    with store_lock(tmp_path / "d.zarr"):
        assert lock_holder(tmp_path / "d.zarr") is None  # this process's own lock


@pytest.mark.parametrize("content", ["", "abc", '{"pid": "abc"}', '{"pid": 1e20}', "[1]"])
def test_malformed_lock_content_neither_crashes_nor_blocks(tmp_path, content):
    lock_path(tmp_path / "d.zarr").write_text(content)
    with store_lock(tmp_path / "d.zarr"):  # nobody holds it: taken, whatever it says
        pass
    assert not lock_path(tmp_path / "d.zarr").exists()


def test_malformed_lock_content_of_a_live_holder_is_reported(tmp_path, holder):
    holder(tmp_path / "d.zarr")
    lock_path(tmp_path / "d.zarr").write_text('{"pid": 1e20, "host": ["x"]}')
    with pytest.raises(DatasetError, match="being written by pid 1e\\+20"):
        with store_lock(tmp_path / "d.zarr"):
            pass


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_lock_path_that_is_no_file_is_a_clear_error(tmp_path, kind):
    path = lock_path(tmp_path / "d.zarr")
    if kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DatasetError, match=f"is a {'folder' if kind == 'folder' else 'symbolic'}"
                                           ".*remove it"):
        with store_lock(tmp_path / "d.zarr"):
            pass
