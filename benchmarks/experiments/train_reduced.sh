#!/usr/bin/env bash
# Reduced-scale CPU reproduction of das2025 Table 2 (CS / EG / SG accuracy of CNNstatic
# and DIFCON on the equivariance and invariance test splits), as reported in
# docs/results/2026-11-22-table2-reduced.md and benchmarks/results/training_cpu_reduced.json.
#
# Usage: benchmarks/experiments/train_reduced.sh [OUT_DIR]      (default /work/runs; needs ~2.5 GB)
# Run from the repository root. Both trainings run side by side, one CPU thread each.
set -euo pipefail
OUT=${1:-/work/runs}
PY=.venv/bin/python
XRDSIM=.venv/bin/xrdsim
STRUCT=/work/shared/data/structures
mkdir -p "$OUT"

# 1. dataset: all 18,093 MP-20 structures (val + test CSVs), 6 train views, 2 test views.
nice -n 10 "$XRDSIM" build "$STRUCT/mp20_val.csv.gz" "$STRUCT/mp20_test.csv.gz" \
    -o "$OUT/mp20.zarr" --workers 2 --views-train 6 --views-test 2 --seed 0 \
    --manifest-dir "$OUT/manifests" --json --quiet > "$OUT/build.log" 2>&1

# 2. training: a width-8 ResNet (the default is 32; see docs/training.md for why), same
#    model for both methods, equal numbers of forward/backward patterns (~390k each:
#    supervised 4 epochs x 97,664 stored train patterns; barlow 4 pretraining passes over
#    the 16,284 train structures x 2 views + 16 fine-tuning passes x 1 fresh view).
COMMON=(--data "$OUT/mp20.zarr" --width 8 --depth 4 --batch-size 128 --lr 1e-3
        --val-max-patterns 1024 --seed 0 --device cpu --workers 0 -q)
OMP_NUM_THREADS=1 nohup nice -n 10 "$XRDSIM" train --method supervised "${COMMON[@]}" \
    --epochs 4 -o "$OUT/supervised_e4" > "$OUT/train_supervised.log" 2>&1 &
SUP=$!
OMP_NUM_THREADS=1 nohup nice -n 10 "$XRDSIM" train --method barlow "${COMMON[@]}" \
    --peaks "$OUT/mp20.zarr.peaks.h5" --config train \
    --pretrain-epochs 4 --epochs 16 -o "$OUT/barlow_p4e16" > "$OUT/train_barlow.log" 2>&1 &
BAR=$!
wait "$SUP" "$BAR"

# 2b. supervised-aug (CNNaug) at the same compute: 24 passes x 1 fresh view, run alone
#     afterwards with 2 threads.
OMP_NUM_THREADS=2 nice -n 10 "$XRDSIM" train --method supervised-aug "${COMMON[@]}" \
    --peaks "$OUT/mp20.zarr.peaks.h5" --config train --epochs 24 \
    -o "$OUT/supervised_aug_e24" > "$OUT/train_aug.log" 2>&1

# 3. evaluation on every test split, with the das2025 Fig. 4 block-similarity matrix.
for run in supervised_e4 barlow_p4e16 supervised_aug_e24; do
    OMP_NUM_THREADS=1 nice -n 10 "$XRDSIM" evaluate "$OUT/$run" --data "$OUT/mp20.zarr" \
        --split equivariance --split invariance --split held_out_invariance \
        --block-split invariance --block-structures 100 \
        > "$OUT/eval_$run.log" 2>&1 &
done
wait

# 4. chance levels (majority-class rate of each test split).
"$PY" - "$OUT/mp20.zarr" <<'EOF'
import json, sys
import numpy as np, zarr
root = zarr.open_group(sys.argv[1], mode="r")
out = {}
for split in ("equivariance", "invariance", "held_out_invariance"):
    g = root[split]
    out[split] = {k: float(np.bincount(np.asarray(g[k][:]).astype(np.int64)).max() / g[k].shape[0])
                  for k in ("crystal_system", "extinction_group", "space_group")}
print(json.dumps(out, indent=1))
EOF
