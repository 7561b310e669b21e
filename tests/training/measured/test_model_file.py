"""Weights-only model files (``xrdsim export-model``), the bundled model and ``xrdsim.predict``:
a tiny calibrated run exported and read back predicts real measured files exactly as the
run; tampered files are refused with the file named, and nothing in them runs."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import training_store
from click.testing import CliRunner
from xrdsim_cli.main import cli
from xrdsim_training import trainer
from xrdsim_training.config import ModelConfig, TrainConfig
from xrdsim_training.evaluation.temperature import calibrate_run, load_temperatures
from xrdsim_training.measured.model_file import (
    BUNDLED_MODEL,
    HEADER_NAME,
    MODEL_FORMAT,
    export_model,
    file_sha256,
    read_model_file,
    weights_digest,
)
from xrdsim_training.measured.predict import predict_files

import xrdsim
from xrdsim.errors import ModelFileError, PatternReadError, TrainingError

built_store = training_store.built_store
one_torch_thread = training_store.one_torch_thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ModelConfig(width=4, depth=2, embed_dim=16, projector_dim=32, pool_length=4)
TASKS = ("crystal_system", "extinction_group", "space_group")
#: Real measured files: lab Cu Kα patterns of known phases and three RRUFF minerals.
AUTOXRD = ["MnO.xy", "TiO2.xy", "LiMnO2.xy"]
RRUFF = ["rruff_dev_000.xy", "rruff_dev_001.xy", "rruff_dev_002.xy"]


@pytest.fixture(scope="module")
def run_dir(built_store, tmp_path_factory):
    """A tiny supervised run on the small real store, calibrated on its equivariance split."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("export") / "run"
    config = TrainConfig(method="supervised", epochs=4, batch_size=16, lr=5e-3,
                         shuffle_buffer=48, model=TINY, val_max_patterns=0, device="cpu")
    trainer.train(config, run_dir=run, data=built_store, progress=False)
    calibrate_run(run, data=built_store, device="cpu")
    torch.set_num_threads(before)
    return run


@pytest.fixture(scope="module")
def model_file(run_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    export_model(run_dir, path, training_command="xrdsim train --method supervised ...")
    return path


@pytest.fixture(scope="module")
def measured_files(shared_data):
    return ([shared_data / "patterns" / "autoxrd_examples" / n for n in AUTOXRD]
            + [shared_data / "patterns" / "rruff_dev" / n for n in RRUFF])


def _probabilities(record: dict, task: str) -> np.ndarray:
    size = {"crystal_system": 7, "extinction_group": 112, "space_group": 231}[task]
    out = np.zeros(size)
    for c in record[task]["top_k"]:
        out[c["label"]] = c["probability"]
    return out


def test_the_file_predicts_real_files_as_the_run(run_dir, model_file, measured_files):
    from_run = predict_files(run_dir, measured_files, wavelength="CuKa", top_k=230,
                             device="cpu")
    from_file = predict_files(model_file, measured_files, wavelength="CuKa", top_k=230,
                              device="cpu")
    assert len(from_run) == len(from_file) == 6
    for a, b in zip(from_run, from_file, strict=True):
        assert "error" not in a and a["calibrated"] and b["calibrated"]
        for task in TASKS:
            assert a[task]["prediction"] == b[task]["prediction"]
            np.testing.assert_allclose(_probabilities(b, task), _probabilities(a, task),
                                       atol=1e-6, rtol=0)
    # the temperatures travelled: the file's are the run's calibration.json
    assert read_model_file(model_file).temperatures == load_temperatures(run_dir)


def test_the_file_is_small_reproducible_and_holds_no_projector(run_dir, model_file, tmp_path):
    again = tmp_path / "again.npz"
    info = export_model(run_dir, again, training_command="xrdsim train --method supervised ...")
    assert info["sha256"] == file_sha256(model_file) == file_sha256(again)  # same bytes
    with zipfile.ZipFile(model_file) as archive:
        names = archive.namelist()
        header = json.loads(archive.read(HEADER_NAME))
    assert names[0] == HEADER_NAME and not any(n.startswith("projector.") for n in names)
    with np.load(model_file, allow_pickle=False) as npz:
        arrays = {n: npz[n] for n in npz.files if n != HEADER_NAME}
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]
    assert set(arrays) == {k for k in state if not k.startswith("projector.")}
    for name, value in arrays.items():  # the very numbers of the checkpoint
        np.testing.assert_array_equal(value, state[name].numpy())
    assert header["format"] == MODEL_FORMAT and header["weights_sha256"] == weights_digest(arrays)
    assert header["model"] == TINY.to_dict() | {"n_extinction_groups": 112}
    assert header["source"]["train_config"]["epochs"] == 4
    assert header["training_command"].startswith("xrdsim train")
    assert info["n_parameters"] == sum(a.size for a in arrays.values())
    assert info["bytes"] < 64 * 1024  # the tiny net; the bundled default one is ~2 MB


def _rewrite(source: Path, target: Path, *, drop: str | None = None,
             replace: dict[str, bytes] | None = None, header: dict | None = None) -> Path:
    """A copy of a model file with one member dropped or replaced (raw bytes)."""
    with zipfile.ZipFile(source) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    if drop:
        del members[drop]
    members.update(replace or {})
    if header is not None:
        members[HEADER_NAME] = json.dumps(header).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _npy(value: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, value, allow_pickle=allow_pickle)
    return buffer.getvalue()


class _Trap:
    """Unpickling this writes a file: if a loader ever unpickles, the test sees it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def _refusal(path: Path) -> str:
    with pytest.raises(ModelFileError) as caught:
        read_model_file(path)
    assert caught.value.source == str(path) and str(path) in str(caught.value)
    return caught.value.reason


def test_tampered_files_are_refused_naming_the_file(model_file, tmp_path):
    name = "heads.cs.weight"
    with np.load(model_file, allow_pickle=False) as npz:
        weight = npz[name]
        header = json.loads(bytes(npz[HEADER_NAME]))
    wrong = _rewrite(model_file, tmp_path / "shape.npz",
                     replace={f"{name}.npy": _npy(np.zeros((3, 16), np.float32))})
    assert f"tensor {name!r} is float32 of shape [3, 16]" in _refusal(wrong)
    assert "needs float32 of shape [7, 16]" in _refusal(wrong)
    missing = _rewrite(model_file, tmp_path / "missing.npz", drop=f"{name}.npy")
    assert f"missing ['{name}']" in _refusal(missing)
    marker = tmp_path / "unpickled"
    trap = np.array([_Trap(str(marker))], dtype=object)
    pickled = _rewrite(model_file, tmp_path / "pickled.npz",
                       replace={f"{name}.npy": _npy(trap, allow_pickle=True)})
    assert "object array" in _refusal(pickled) and not marker.exists()
    swapped = _rewrite(model_file, tmp_path / "swapped.npz",
                       replace={f"{name}.npy": _npy(weight[::-1].copy())})
    assert "weights_sha256" in _refusal(swapped)
    nan = weight.copy()
    nan[0, 0] = np.nan
    header_nan = dict(header)
    with np.load(model_file, allow_pickle=False) as npz:
        arrays = {n: npz[n] for n in npz.files if n != HEADER_NAME} | {name: nan}
    header_nan["weights_sha256"] = weights_digest(arrays)
    diverged = _rewrite(model_file, tmp_path / "nan.npz", replace={f"{name}.npy": _npy(nan)},
                        header=header_nan)
    assert "NaN" in _refusal(diverged)
    other_classes = _rewrite(model_file, tmp_path / "classes.npz",
                             header=header | {"classes": {"crystal_system": ["a"]}})
    assert "classes" in _refusal(other_classes)
    hot = _rewrite(model_file, tmp_path / "temperature.npz",
                   header=header | {"temperatures": {"crystal_system": 1e9}})
    assert "temperatures" in _refusal(hot)


def test_files_that_are_not_model_files_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a zip")
    assert "not an .npz / ZIP archive" in _refusal(text)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weights=np.zeros(3))
    assert f"no {HEADER_NAME}" in _refusal(plain)
    marker = tmp_path / "unpickled"
    pickle_file = tmp_path / "model.npz"
    pickle_file.write_bytes(pickle.dumps(_Trap(str(marker))))
    assert "not an .npz" in _refusal(pickle_file) and not marker.exists()
    assert "cannot read" in _refusal(tmp_path / "absent.npz")


def test_export_refuses_to_replace_what_it_did_not_write(run_dir, model_file, tmp_path):
    with pytest.raises(TrainingError, match="exists; pass --overwrite"):
        export_model(run_dir, model_file)
    other = tmp_path / "data.npz"
    np.savez(other, x=np.zeros(2))
    with pytest.raises(TrainingError, match="not an xrdsim model file"):
        export_model(run_dir, other, overwrite=True)
    assert np.load(other)["x"].shape == (2,)  # untouched


def test_export_model_command_prints_size_and_checksum(run_dir, tmp_path):
    out = tmp_path / "cli.npz"
    result = CliRunner().invoke(cli, ["export-model", str(run_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["sha256"] == file_sha256(out) and info["bytes"] == out.stat().st_size
    assert info["calibrated"] is True


def test_predict_without_a_model_uses_the_bundled_one(shared_data, tmp_path):
    mno = shared_data / "patterns" / "autoxrd_examples" / "MnO.xy"
    out = tmp_path / "p.json"
    result = CliRunner().invoke(cli, ["predict", str(mno), "--wavelength", "CuKa", "--json",
                                      str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "crystal system:" in result.stdout and result.stderr == ""
    report = json.loads(out.read_text())
    assert report["model"] == "bundled (default_model.npz)"
    (record,) = report["files"]
    direct = predict_files(BUNDLED_MODEL, [mno], wavelength="CuKa", device="cpu")
    assert record["crystal_system"] == direct[0]["crystal_system"] and record["calibrated"]


def test_old_spelling_predict_run_files_still_runs_after_one_warning(run_dir, shared_data,
                                                                      tmp_path):
    mno = str(shared_data / "patterns" / "autoxrd_examples" / "MnO.xy")
    old = CliRunner().invoke(cli, ["predict", str(run_dir), mno, "--wavelength", "CuKa",
                                   "--json", "-"])
    new = CliRunner().invoke(cli, ["predict", "--model", str(run_dir), mno, "--wavelength",
                                   "CuKa", "--json", "-"])
    assert old.exit_code == new.exit_code == 0, old.output
    assert old.stderr == ("warning: `xrdsim predict RUN FILES` is deprecated and goes in the "
                          "next release; use `xrdsim predict --model RUN FILES`\n")
    assert new.stderr == ""
    assert json.loads(old.stdout) == json.loads(new.stdout)


def test_evaluate_scores_a_model_file_on_labelled_rruff_files(model_file, shared_data,
                                                              tmp_path):
    folder = tmp_path / "rruff"
    folder.mkdir()
    rows = []
    labels = (shared_data / "patterns" / "rruff_dev" / "labels.csv").read_text().splitlines()
    for line in labels[1:]:
        if line.split(",")[0] in RRUFF:
            rows.append(line)
            (folder / line.split(",")[0]).write_bytes(
                (shared_data / "patterns" / "rruff_dev" / line.split(",")[0]).read_bytes())
    (folder / "labels.csv").write_text("file,space_group\n" + "\n".join(rows) + "\n")
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(cli, ["evaluate", str(model_file), "--measured", str(folder),
                                      "--labels", str(folder / "labels.csv"), "--wavelength",
                                      "CuKa", "-o", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["model_sha256"] == file_sha256(model_file)
    records = predict_files(model_file, [folder], wavelength="CuKa", device="cpu",
                            labels=folder / "labels.csv")
    hits = np.mean([r["crystal_system"]["prediction"] == r["true"]["crystal_system"]
                    for r in records])
    assert report["tasks"]["crystal_system"]["top1"]["accuracy"] == pytest.approx(hits)
    data = CliRunner().invoke(cli, ["evaluate", str(model_file), "--data", str(folder)])
    assert data.exit_code == 2 and "--data needs RUN_DIR" in data.output


def test_python_api_equals_the_command_on_a_real_file(model_file, shared_data):
    path = shared_data / "patterns" / "autoxrd_examples" / "TiO2.xy"
    two_theta, intensity = np.loadtxt(path, unpack=True)
    result = xrdsim.predict(two_theta, intensity, wavelength="CuKa", top_k=5, model=model_file)
    (record,) = predict_files(model_file, [path], wavelength="CuKa", top_k=5, device="cpu")
    for task, key in (("crystal_system", "name"), ("extinction_group", "symbol"),
                      ("space_group", "symbol")):
        assert [(c.label, c.name, c.probability) for c in getattr(result, task)] == [
            (c["label"], c[key], c["probability"]) for c in record[task]["top_k"]]
    assert result.space_group_routed.label == record["space_group"]["prediction"]
    assert result.calibrated and result.model == str(model_file) and result.warnings == ()
    # a descending scan is the same pattern, reversed with a warning, as a file's would be
    flipped = xrdsim.predict(two_theta[::-1], intensity[::-1], wavelength="CuKa", top_k=5,
                             model=model_file)
    assert flipped.crystal_system == result.crystal_system
    assert "reversed" in flipped.warnings[0]
    with pytest.raises(PatternReadError, match="finite"):
        xrdsim.predict(two_theta * np.nan, intensity, wavelength="CuKa", model=model_file)


def test_python_api_without_torch_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import xrdsim\n"
            "try:\n"
            "    xrdsim.predict([10, 20, 30], [1, 5, 1], wavelength='CuKa')\n"
            "except xrdsim.errors.TrainingError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install xrdsim[training]" in done.stdout
