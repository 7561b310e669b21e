"""``xrdsim export-model``: a trained run → one weights-only model file (``.npz``) that
``xrdsim predict --model``, ``xrdsim evaluate`` and ``xrdsim.predict`` read without pickle."""

from __future__ import annotations

from pathlib import Path

import click
from xrdsim_cli._common import echo_json, handles_library_errors


@click.command("export-model")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.npz).")
@click.option("--training-command", default=None,
              help="The command that trained RUN_DIR, recorded in the file's header (and the "
                   "model card).")
@click.option("--wavelength", default="1.5418", show_default=True,
              help="λ of the grid RUN_DIR was trained at (Å or a preset name); predictions "
                   "convert files to it.")
@click.option("--overwrite", is_flag=True, help="Replace --output if it is a model file.")
@handles_library_errors
def export_model(run_dir, output, training_command, wavelength, overwrite):
    """Write the network of RUN_DIR (best.pt, else checkpoint.pt) and the temperatures of
    its calibration.json (`xrdsim evaluate RUN_DIR --data STORE` fits them) as one model
    file: the weights without the projector, as .npy arrays in an .npz, with a JSON header
    (architecture, classes, calibration, the run's settings and checksums). Prints the
    file's size and sha256; the same weights always give the same bytes.

    \b
      xrdsim export-model runs/static -o model.npz
      xrdsim predict --model model.npz scans/
    """
    from xrdsim_training.measured.model_file import export_model as export

    info = export(run_dir, output, training_command=training_command, wavelength=wavelength,
                  overwrite=overwrite)
    echo_json({k: info[k] for k in ("output", "bytes", "sha256", "weights_sha256",
                                    "n_parameters")}
              | {"calibrated": info["header"]["temperatures"] is not None})
