"""The README's commands run as written, on tiny inputs of the same names (issue 15).

The bash block of "## Command line" is parsed line by line (continuations joined,
comments dropped, ``[optional]`` brackets opened) and every ``xrdsim`` command runs
through click's CliRunner in a folder that holds tiny stand-ins for the README's inputs
(``mp20.csv.gz`` = 42 bundled structures, ``my_cifs/``, ``NiO.cif``, ``scans/``,
``data.xy``, ``labels.csv``). Only these substitutions are made, each for speed or
because it needs something outside the test:

- ``--workers 2`` becomes ``--workers 1`` (a local dask cluster per command costs
  ~10-20 s; the Python block below still starts one);
- ``xrdsim build ... --resume`` reuses the previous build's arguments for ``...``; the
  ``--scheduler tcp://host:8786`` line needs a running cluster and is skipped;
- neural ``train`` commands get a tiny network, 2 (fine-tuning) epochs and one step per
  on-the-fly epoch appended (:data:`TINY_TRAIN`); the barlow command keeps its default
  pre-training epochs;
- ``synth`` makes 5 crystals in each of space groups 1–2 instead of 20 in each of 230;
- ``sources`` downloads from PyPI and Debian: the two fetchers are replaced by ones that
  copy local CIFs (as in ``tests/structures/test_fetch.py``), the rest runs as written.

The Python block runs as a script in a subprocess, with ``workers=2`` as written.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from xrdsim_cli.main import cli

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
#: Appended to the neural ``train`` commands: a tiny network and short epochs.
TINY_TRAIN = ["--epochs", "2", "--width", "4", "--depth", "1", "--embed-dim", "8",
              "--projector-dim", "16", "--batch-size", "16", "--steps-per-epoch", "1",
              "--val-max-patterns", "8", "--device", "cpu", "-q"]
#: Structures per crystal system in the tiny ``mp20.csv.gz`` (≤ 8 atoms each).
PER_SYSTEM = 6
#: Lines that need something the test cannot provide.
SKIPPED = ("--scheduler tcp://",)


def _blocks(language: str, after: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index(after):]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def readme_commands() -> list[list[str]]:
    """The ``xrdsim`` commands of the "Command line" block, as argument lists."""
    block = _blocks("bash", "## Command line")[0]
    joined = re.sub(r"\\\n\s*", " ", block)
    commands, previous = [], {}
    for line in joined.splitlines():
        line = re.sub(r"\[([^\]]*)\]", r"\1", line)  # [--labels labels.csv] -> given
        args = shlex.split(line, comments=True)
        if not args or args[0] != "xrdsim" or any(s in line for s in SKIPPED):
            continue
        args = args[1:]
        if "..." in args:  # "xrdsim build ... --resume": the previous build's arguments
            i = args.index("...")
            args = args[:i] + previous[args[0]][1:] + args[i + 1:]
        previous[args[0]] = args
        commands.append(args)
    return commands


def _tiny_inputs(folder: Path, shared_data: Path) -> None:
    from xrdsim.dataset.build import default_source
    from xrdsim.structures.crystal_systems import crystal_system_index

    frame = pd.read_csv(default_source())
    frame = frame[frame["num_atoms"] <= 8]
    systems = crystal_system_index(frame["spacegroup_number_symprec0.1"].to_numpy())
    picked = frame.assign(_cs=systems).groupby("_cs").head(PER_SYSTEM).drop(columns="_cs")
    with gzip.open(folder / "mp20.csv.gz", "wt", newline="") as fh:
        picked.to_csv(fh, index=False)
    shutil.copytree(TEST_DATA / "cifs", folder / "my_cifs",
                    ignore=shutil.ignore_patterns("LICENSE*", "*.md"))
    shutil.copy(TEST_DATA / "cifs" / "NiO_225_sym.cif", folder / "NiO.cif")
    (folder / "scans").mkdir()
    for name in ("feooh.xrdml", "V2O5-2ZnO_400C_60min.xrdml"):
        shutil.copy(TEST_DATA / "patterns" / name, folder / "scans" / name)
    shutil.copy(shared_data / "patterns" / "autoxrd_examples" / "MnO.xy", folder / "data.xy")
    shutil.copy(shared_data / "patterns" / "autoxrd_examples" / "MnO.xy", folder / "MnO.xy")
    shutil.copy(shared_data / "cifs" / "autoxrd_examples" / "MnO_225.cif",
                folder / "MnO_225.cif")
    for name in ("mp20_val.csv.gz", "mp20_test.csv.gz"):
        shutil.copy(folder / "mp20.csv.gz", folder / name)
    (folder / "labels.csv").write_text("file,space_group\nfeooh.xrdml,62\n")


def _local_fetchers(monkeypatch) -> None:
    from xrdsim.structures import fetch

    def copier(*names):
        def fetcher(folder, work):
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                shutil.copyfile(TEST_DATA / "cifs" / name, folder / name)
            return len(names)
        return fetcher

    monkeypatch.setattr(fetch, "fetch_aflow", copier("NiO_225_sym.cif"))
    monkeypatch.setattr(fetch, "fetch_avogadro", copier("LiOH-H2O_12.cif"))


def test_readme_command_block_is_what_this_test_runs():
    names = [c[0] for c in readme_commands()]
    assert names == ["peaks", "peaks-info", "synth", "sources", "mix", "simulate", "build",
                     "build", "inspect", "verify", "train", "train", "evaluate", "prepare",
                     "predict", "predict", "export-model", "predict", "train", "predict",
                     "evaluate", "evaluate", "calibrate", "index"]


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path, shared_data, monkeypatch):
    _tiny_inputs(tmp_path, shared_data)
    _local_fetchers(monkeypatch)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in readme_commands():
        args = ["1" if a == "2" and args[i - 1] == "--workers" else a
                for i, a in enumerate(args)]
        if args[0] == "synth":
            args = [{"20": "5", "1-230": "1-2"}.get(a, a) for a in args]
        if args[0] == "train" and "hand" not in args:
            args = args + TINY_TRAIN
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
    assert Path("data_manifests/mp20.json").is_file() and Path("nio.png").is_file()
    assert Path("predictions.json").is_file() and Path("runs/hand").is_dir()
    assert Path("mixed.csv.gz").is_file() and Path("instrument.yaml").is_file()
    assert Path("index.png").is_file()
    # what the commands produced, not only their exit codes (issue 31, item 3)
    recipe = json.loads(Path("mixed.mix.json").read_text())
    assert recipe["n_real"] == len(pd.read_csv("mp20_val.csv.gz")) + 2  # + extra/aflow, avogadro
    assert recipe["unreadable_inputs"] == []
    assert len(json.loads(Path("predictions.json").read_text())["files"]) == 2
    scored = json.loads(Path("runs/hand/eval_measured.json").read_text())
    assert scored["n"] == 1 and Path("hand.png").is_file()  # labels.csv names one scan
    from xrdsim_training.measured.model_file import BUNDLED_MODEL, file_sha256

    bundled = json.loads(Path("bundled.json").read_text())
    assert bundled["n"] == 1 and bundled["model_sha256"] == file_sha256(BUNDLED_MODEL)
    assert Path("model.npz").stat().st_size > 0
    import zarr

    assert zarr.open_group("prepared.zarr", mode="r")["measured/patterns"].shape == (3, 12000)


def test_readme_bundled_model_block_runs(tmp_path, shared_data):
    """The "Predicting with the bundled model" Python block as a script, on MnO.xy."""
    shutil.copy(shared_data / "patterns" / "autoxrd_examples" / "MnO.xy", tmp_path / "MnO.xy")
    script = tmp_path / "bundled.py"
    script.write_text(_blocks("python", "## Predicting with the bundled model")[0])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    name, probability, *_ = done.stdout.split()
    assert name in ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal",
                    "hexagonal", "cubic") and 0 < float(probability) <= 1


@pytest.mark.slow
def test_item04_readme_python_api_runs_as_a_script(tmp_path, shared_data):
    """The API block as a script; ``build_dataset(..., workers=2)`` starts dask workers,
    which import the script again (item 4: the README keeps the __main__ guard)."""
    _tiny_inputs(tmp_path, shared_data)
    peaks = ["peaks", str(tmp_path / "mp20.csv.gz"), "-o", str(tmp_path / "peaks.h5"), "-q",
             "--workers", "1"]
    assert CliRunner().invoke(cli, peaks).exit_code == 0
    shutil.copy(tmp_path / "my_cifs" / "NiO_225_sym.cif", tmp_path / "NiO.cif")
    script = tmp_path / "readme_api.py"
    script.write_text(_blocks("python", "## Python API")[0])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert (tmp_path / "mp20.zarr").is_dir()
