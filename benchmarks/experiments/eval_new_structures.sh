#!/usr/bin/env bash
# "New structure types": score trained runs on real structures that are not in MP-20 —
# the AFLOW prototypes and Avogadro's COD minerals / oxides / zeolites that
# `xrdsim sources` fetches (PyPI + Debian), minus every (reduced formula, space group)
# of MP-20 — simulated with the train preset (half of them) and the invariance preset
# (the other half), one view each. A proxy for measured collections of minerals and
# other chemistry MP-20 lacks: transfer_table.py reports it as its own column.
#
# Usage: benchmarks/experiments/eval_new_structures.sh RUN_FOLDER [DATA_DIR] RUN [RUN ...]
#        (from the repository root; RUN_FOLDER holds the runs, e.g. the output folder of
#        benchmarks/experiments/train_transfer_cpu.sh). Writes RUN_FOLDER/new_structures/: the fetched
#        CIFs, the store, and one evaluation report per run (RUN.json).
set -euo pipefail
FOLDER=${1:?usage: eval_new_structures.sh RUN_FOLDER [DATA_DIR] RUN [RUN ...]}
DATA=${2:-../shared/data}
shift 2
XRDSIM=${XRDSIM:-xrdsim}
OUT="$FOLDER/new_structures"
mkdir -p "$OUT"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}

if [ ! -f "$OUT/extra/sources.json" ]; then
    "$XRDSIM" sources -o "$OUT/extra" --dedupe "$DATA/structures/mp20_val.csv.gz" \
        --dedupe "$DATA/structures/mp20_test.csv.gz" > "$OUT/sources.log"
fi
if [ ! -f "$OUT/structures.zarr/zarr.json" ]; then
    # exit code 1 = some CIFs could not be used (listed in the JSON); the rest is built
    "$XRDSIM" build "$OUT/extra/aflow" "$OUT/extra/avogadro" -o "$OUT/structures.zarr" \
        --overwrite --workers 1 --views-train 1 --views-test 1 --test-fraction 0.5 \
        --manifest-dir "$OUT/manifests" --json --quiet > "$OUT/build.json" || [ $? -eq 1 ]
fi
for run in "$@"; do
    # a copy of the run (HAND or neural): evaluate writes its figures into the run folder
    copy="$OUT/runs/$(basename "$run")"
    rm -rf "$copy" && mkdir -p "$OUT/runs" && cp -rL "$FOLDER/$run" "$copy"
    "$XRDSIM" evaluate "$copy" --data "$OUT/structures.zarr" --split equivariance \
        --split invariance --no-calibrate --tsne-points 0 \
        -o "$OUT/$(basename "$run").json" > /dev/null
done
