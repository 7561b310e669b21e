"""Calibrate on every single-phase measured pattern of ../shared/data whose phase has a CIF.

Writes benchmarks/results/calibration.json, docs/figures/calibration/<file>.png and one
instrument config per file into a scratch folder. Run from the repository root:

    python benchmarks/experiments/calibrate_shared.py [--data ../shared/data] \
        [--configs /tmp/instruments]

Pairs (phase identified in docs/measured.md, "Measured test set"): the autoxrd examples
MnO, Mn2O3, LiMnO2, MnO2 (pyrolusite) and TiO2 (anatase), all Cu Kα (stated by the user).
Not calibrated: the TaCr2O6 scan (no CIF in shared/data/cifs, and its FullProf file refines
it with Cr2O3 as a second phase), the A-Lab and PeakPo files (reaction mixtures, or phases
without a CIF: ringwoodite, FeOOH) and the mixtures of autoxrd_examples.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from xrdsim.calibration.figure import plot_calibration
from xrdsim.calibration.fit import calibrate
from xrdsim.calibration.inputs import read_known_phase, read_measured
from xrdsim.calibration.instrument import instrument_config, write_config
from xrdsim.files import write_json
from xrdsim.versions import machine_description, package_versions

ROOT = Path(__file__).resolve().parents[2]
PAIRS = (
    ("patterns/autoxrd_examples/MnO.xy", "cifs/autoxrd_examples/MnO_225.cif", "CuKa"),
    ("patterns/autoxrd_examples/Mn2O3.xy", "cifs/autoxrd_examples/Mn2O3_206.cif", "CuKa"),
    ("patterns/autoxrd_examples/LiMnO2.xy", "cifs/autoxrd_examples/LiMnO2_59.cif", "CuKa"),
    ("patterns/autoxrd_examples/MnO2.xy", "cifs/autoxrd_examples/MnO2_136.cif", "CuKa"),
    ("patterns/autoxrd_examples/TiO2.xy", "cifs/autoxrd_examples/TiO2_141.cif", "CuKa"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("XRDSIM_SHARED_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--configs", default="/tmp/xrdsim_instruments")
    args = parser.parse_args()
    data = Path(args.data)
    records = []
    for measured, cif, wavelength in PAIRS:
        started = time.perf_counter()
        pattern = read_measured(data / measured, wavelength=wavelength)
        structure = read_known_phase(data / cif)
        result = calibrate(pattern, structure, cif=str(Path(cif).name))
        name = Path(measured).stem
        figure = plot_calibration(result, ROOT / "docs" / "figures" / "calibration" / f"{name}.png")
        config = write_config(instrument_config(result), Path(args.configs) / f"{name}.yaml",
                              result=result)
        record = {**result.to_dict(), "file": measured, "cif_file": cif,
                  "figure": str(figure.relative_to(ROOT)), "config": str(config),
                  "wall_seconds": time.perf_counter() - started}
        record["source"] = measured
        records.append(record)
        print(f"{measured}: Rwp {result.values['rwp']:.2f} % (Rexp {result.values['rexp']:.2f} %)"
              f" in {record['wall_seconds']:.1f} s")
    out = {"command": "python benchmarks/experiments/calibrate_shared.py",
           "machine": machine_description(),
           "versions": package_versions(), "files": records}
    path = ROOT / "benchmarks" / "results" / "calibration.json"
    write_json(path, out, indent=1, ensure_ascii=False)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
