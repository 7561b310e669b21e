#!/usr/bin/env bash
# Reduced-scale CPU table in the shape of das2025 Table 2, with a measured column:
# HAND, supervised, supervised-aug, barlow and simclr at equal compute (~32k patterns
# through the network each) on the first 3,000 MP-20 structures of mp20_val, scored on the
# store's equivariance / invariance / held-out-invariance splits and on the labelled
# measured patterns of ../shared/data (benchmarks/bench_measured.py). docs/training.md
# "Reduced-scale CPU transfer table" reports the numbers this script printed.
#
# Usage: benchmarks/train_transfer_cpu.sh [OUT_DIR] [DATA_DIR]   (from the repository root)
set -euo pipefail
OUT=${1:-/tmp/xrdsim_transfer}
DATA=${2:-../shared/data}
XRDSIM=${XRDSIM:-xrdsim}
PY=${PYTHON:-python}
REPO=$(pwd)
mkdir -p "$OUT"
export OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1

# 1. dataset: 3,000 structures (2,700 train / 300 held out), 4 train views, 2 test views
"$PY" - "$DATA/structures/mp20_val.csv.gz" "$OUT/mp3000.csv" <<'PYEOF'
import csv, gzip, sys
csv.field_size_limit(10**9)
with gzip.open(sys.argv[1], "rt") as f, open(sys.argv[2], "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    w.writerow(next(r))
    for _, row in zip(range(3000), r):
        w.writerow(row)
PYEOF
"$XRDSIM" build "$OUT/mp3000.csv" -o "$OUT/mp3k.zarr" --workers 1 --views-train 4 \
    --views-test 2 --manifest-dir "$OUT/manifests" --json --quiet > "$OUT/build.log"

# 2. training at equal compute: supervised 3 epochs x 10,800 stored patterns; the on-the-fly
#    methods 84 steps x 128 per epoch (supervised-aug 3 epochs; barlow / simclr 1 epoch of
#    pairs = 2 x 10,752 patterns, then 1 fine-tuning epoch), width 8, depth 4
cd "$OUT"
COMMON=(--data mp3k.zarr --width 8 --depth 4 --val-max-patterns 600 --device cpu -q)
OTF=(--peaks mp3k.zarr.peaks.h5 --steps-per-epoch 84)
"$XRDSIM" train --method hand --peaks mp3k.zarr.peaks.h5 -o hand > hand.log
"$XRDSIM" train --method supervised "${COMMON[@]}" --epochs 3 -o supervised > supervised.log
"$XRDSIM" train --method supervised-aug "${COMMON[@]}" "${OTF[@]}" --epochs 3 -o aug > aug.log
for m in barlow simclr; do
    "$XRDSIM" train --method "$m" "${COMMON[@]}" "${OTF[@]}" --pretrain-epochs 1 --epochs 1 \
        -o "$m" > "$m.log"
done

# 3. simulated splits (+ t-SNE, block matrix, calibration) and the measured patterns
for run in supervised aug barlow simclr; do
    "$XRDSIM" evaluate "$run" --data mp3k.zarr --max-patterns 600 --block-structures 50 \
        --tsne-points 300 > "eval_$run.log"
done
"$PY" "$REPO/benchmarks/bench_measured.py" score hand supervised aug barlow simclr \
    --data "$DATA" --json measured.json
