#!/usr/bin/env bash
# One command, one GPU, ≤ 10 minutes (issue 12): peak DB of every structure in
# ../shared/data/structures, a store with the test splits, GPU throughput (torch_sim and
# training), then HAND, supervised (CNNstatic), supervised-aug (CNNaug), barlow (DIFCON:
# Barlow pre-training + fine-tuning) and simclr at equal time with views simulated on the
# GPU (--simulate-on device), each scored on equivariance / invariance / held-out
# invariance / extrapolation and on the labelled measured patterns. Writes JSON, the
# table (table.md, table.json) and the evaluation figures under OUT_DIR.
#
# Usage (from the repository root):
#   benchmarks/experiments/gpu_run.sh [OUT_DIR]                                  # the GPU run
#   SCALE=tiny DEVICE=cpu benchmarks/experiments/gpu_run.sh /tmp/gpu_rehearsal   # CPU rehearsal
# Env: DATA (../shared/data), XRDSIM, PYTHON, BUDGET (seconds of training per method).
set -euo pipefail
OUT=${1:-gpu_results}
SCALE=${SCALE:-full}
DEVICE=${DEVICE:-cuda}
DATA=$(cd "${DATA:-../shared/data}" && pwd)
XRDSIM=${XRDSIM:-xrdsim}
PY=${PYTHON:-python}
REPO=$(pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/run.log"; }
METHODS=(supervised supervised-aug barlow simclr)

case $SCALE in
    full)  # one H100/H200 node: 16 cores for the CPU stages, the GPU for the rest
        WORKERS=16 VIEWS_TRAIN=4 VIEWS_TEST=2 WIDTH=32 DEPTH=4 BATCH=512
        BUDGET=${BUDGET:-75} SIM_BATCH=4096 MAX_PATTERNS=4000 TSNE=1000 STEPS=0
        SOURCES=("$DATA/structures/mp20_val.csv.gz" "$DATA/structures/mp20_test.csv.gz") ;;
    tiny)  # CPU rehearsal of every command at toy size
        WORKERS=1 VIEWS_TRAIN=2 VIEWS_TEST=2 WIDTH=4 DEPTH=2 BATCH=16
        BUDGET=${BUDGET:-80} SIM_BATCH=16 MAX_PATTERNS=40 TSNE=30 STEPS=2
        "$PY" - "$DATA/structures/mp20_val.csv.gz" "$OUT/tiny.csv" <<'PYEOF'
import csv, gzip, sys
csv.field_size_limit(10**9)
with gzip.open(sys.argv[1], "rt") as f, open(sys.argv[2], "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    w.writerow(next(r))
    for _, row in zip(range(160), r):
        w.writerow(row)
PYEOF
        SOURCES=("$OUT/tiny.csv") ;;
    *) echo "SCALE must be full or tiny, got $SCALE" >&2; exit 2 ;;
esac
cd "$OUT"
log "scale $SCALE, device $DEVICE, $(getconf _NPROCESSORS_ONLN) cores"
[ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total --format=csv | tee -a run.log

# 1. data: peak DB of every structure, then a store (train views for CNNstatic, test splits)
log "peaks"
"$XRDSIM" peaks "${SOURCES[@]}" -o peaks.h5 --workers "$WORKERS" -q > peaks.log 2>&1 || true
log "build"
"$XRDSIM" build peaks.h5 -o store.zarr --overwrite --workers "$WORKERS" \
    --views-train "$VIEWS_TRAIN" --views-test "$VIEWS_TEST" \
    --extra-split extrapolation=extrapolation --manifest-dir manifests --json --quiet \
    > build.json 2> build.log || true

# 2. throughput on the device
log "bench"
"$PY" "$REPO/benchmarks/speed/bench_gpu.py" --peaks peaks.h5 --device "$DEVICE" \
    --sim-batch "$SIM_BATCH" --train-batch "$BATCH" --repeats 3 -o gpu_bench.json \
    | tee -a run.log

# 3. training at equal time: epochs sized from the measured rates so that each method
#    fills BUDGET seconds; `timeout` is only the safety net (best.pt is kept per epoch)
#    (tiny: one epoch each, on-the-fly epochs of STEPS batches)
if [ "$SCALE" = tiny ]; then
    SUP_EPOCHS=1 OTF_EPOCHS=1 PAIR_EPOCHS=1
else
read -r SUP_EPOCHS OTF_EPOCHS PAIR_EPOCHS < <("$PY" - "$BUDGET" "$BATCH" <<'PYEOF'
import json, sys
import zarr
budget, batch = float(sys.argv[1]), int(sys.argv[2])
bench = json.load(open("gpu_bench.json"))
train = min(r["patterns_per_s"] for r in bench["training"].values())
sim = next(r["patterns_per_s"] for r in bench["simulation"] if r["preset"] == "train")
fresh = 1.0 / (1.0 / train + 1.0 / sim)          # simulate, then step, in one process
root = zarr.open_group("store.zarr", mode="r")
n_store = root["train"]["patterns"].shape[0]
n_struct = root.attrs["splits"]["train"]["n_structures"]
budget *= 0.8                                      # validation, start-up
sup = max(1, int(budget * train / n_store))
otf = max(1, int(budget * fresh / n_struct))
pairs = max(1, int(budget * fresh / (3 * n_struct)))  # 2 views pre-training + 1 fine-tuning
print(sup, otf, pairs)
PYEOF
)
fi
log "epochs: supervised $SUP_EPOCHS, supervised-aug $OTF_EPOCHS, barlow/simclr $PAIR_EPOCHS + $PAIR_EPOCHS"
"$XRDSIM" train --method hand --peaks peaks.h5 --data store.zarr -o hand > hand.log 2>&1
COMMON=(--data store.zarr --device "$DEVICE" --width "$WIDTH" --depth "$DEPTH"
        --batch-size "$BATCH" --val-max-patterns "$MAX_PATTERNS" --patience 3 -q)
OTF=(--peaks peaks.h5 --config train --simulate-on device --steps-per-epoch "$STEPS")
for m in "${METHODS[@]}"; do
    log "train $m"
    case $m in
        supervised) args=(--epochs "$SUP_EPOCHS") ;;
        supervised-aug) args=("${OTF[@]}" --epochs "$OTF_EPOCHS") ;;
        *) args=("${OTF[@]}" --pretrain-epochs "$PAIR_EPOCHS" --epochs "$PAIR_EPOCHS") ;;
    esac
    timeout -s INT $((BUDGET * 3 / 2)) "$XRDSIM" train --method "$m" "${COMMON[@]}" \
        "${args[@]}" -o "$m" > "$m.log" 2>&1 || log "$m stopped early (exit $?)"
done

# 4. evaluation: simulated splits, measured patterns, the table
for m in hand "${METHODS[@]}"; do
    log "evaluate $m"
    "$XRDSIM" evaluate "$m" --data store.zarr --device "$DEVICE" --split equivariance \
        --split invariance --split held_out_invariance --split extrapolation \
        --max-patterns "$MAX_PATTERNS" --block-structures 50 --tsne-points "$TSNE" \
        > "eval_$m.log" 2>&1 || log "evaluate $m failed (exit $?)"
done
"$PY" "$REPO/benchmarks/experiments/bench_measured.py" score hand "${METHODS[@]}" --data "$DATA" \
    --json measured.json > measured.log 2>&1 || log "measured scoring failed (exit $?)"
"$PY" "$REPO/benchmarks/experiments/transfer_table.py" . --store store.zarr --runs hand "${METHODS[@]}" \
    -o table.json | tee table.md
log "done: $OUT"
