"""A disk that fills up under `peaks`, `build` and `prepare` (issue 30, item 2).

Each command runs in a subprocess whose file-size limit (``RLIMIT_FSIZE``, with SIGXFSZ
ignored) makes the kernel fail the very write that crosses it — the write call returns
an error exactly as on a full disk, with no mount privileges needed. The command is run
once without the limit first so numba's cache files are written before the limit starts.
The checks: exit 3, one ``error:`` line, no traceback, no segfault, no partial output.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
LIMIT = 24 * 1024  # bytes per file: below every output these commands write


def _run_full(args_warm: list[str], args_full: list[str], cwd: Path,
              limit: int = LIMIT) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from xrdsim_cli.main import cli
        try:
            cli.main({args_warm!r}, standalone_mode=False)
        except SystemExit:
            pass
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        sys.argv = ["xrdsim"] + {args_full!r}
        cli.main({args_full!r})
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def _assert_clean(done: subprocess.CompletedProcess, leftovers: list[Path]) -> None:
    assert done.returncode == 3, (done.returncode, done.stderr[-3000:])
    lines = [line for line in done.stderr.splitlines()  # the warm-up run's warnings aside
             if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "File too large" in lines[0] or "disk" in lines[0], lines[0]
    assert leftovers == [], leftovers


@pytest.fixture
def cifs(tmp_path):
    folder = tmp_path / "cifs"
    folder.mkdir()
    for path in sorted((DATA / "cifs").glob("*.cif"))[:12]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_peaks_on_a_full_disk(tmp_path, cifs):
    out = tmp_path / "out"
    out.mkdir()
    done = _run_full(["peaks", str(cifs), "-o", str(tmp_path / "warm.h5"), "--quiet"],
                     ["peaks", str(cifs), "-o", str(out / "p.h5"), "--quiet"], tmp_path)
    _assert_clean(done, sorted(out.iterdir()))


def test_build_on_a_full_disk(tmp_path, cifs):
    out = tmp_path / "out"
    out.mkdir()
    common = ["--views-train", "2", "--views-test", "1", "--test-fraction", "0.2",
              "--shard-size", "16", "--chunk-size", "16", "--manifest-dir", "manifests", "--quiet"]
    done = _run_full(["build", str(cifs), "-o", str(tmp_path / "warm.zarr"), *common],
                     ["build", str(cifs), "-o", str(out / "d.zarr"), *common], tmp_path)
    _assert_clean(done, sorted(p for p in out.iterdir() if not p.name.endswith(".lock")))


def test_prepare_on_a_full_disk(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    scans = [str(DATA / "hostile" / "patterns" / "good.xy")]
    args = ["--wavelength", "CuKa1"]
    done = _run_full(["prepare", *scans, "-o", str(tmp_path / "warm.zarr"), *args],
                     ["prepare", *scans, "-o", str(out / "p.zarr"), *args], tmp_path,
                     limit=2048)
    _assert_clean(done, sorted(out.iterdir()))
