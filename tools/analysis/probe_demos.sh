#!/usr/bin/env bash
# Train the five synthetic demos (or reuse their checkpoints) and probe each
# pre-trained RGB encoder against its random-init twin with
# tools/analysis/probe_encoder.py over 3 runs (data seeds 777, 778, 779;
# twin init seeds 0, 1, 2): the measurement behind "pre-training helps".
#
# Usage:
#   bash tools/analysis/probe_demos.sh [METHOD ...]
#     METHOD: mask3d multimae m3mae progressive simipu (default: all five)
# Environment:
#   WORK_DIR   root of the runs (default work_dirs/probe_demos); a method
#              whose checkpoint exists there is not trained again.
#   PROBE_ARGS extra probe_encoder.py args (word-split), e.g.
#              PROBE_ARGS="--num-train 100 --num-test 60".
#   PYTHON     interpreter (default python).
# Output: <WORK_DIR>/<method>.probe.txt (the tool's table) and .json; the
# last line printed per method is its mean pre-trained - random difference.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK_ROOT=${WORK_DIR:-work_dirs/probe_demos}
PYTHON=${PYTHON:-python}
read -r -a EXTRA <<< "${PROBE_ARGS:-}"
METHODS=("$@")
[ ${#METHODS[@]} -gt 0 ] || METHODS=(mask3d multimae m3mae progressive simipu)
C=configs/pretrain
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

train_one() {  # CONFIG WORK_DIR
    [ -f "$2/last_checkpoint" ] && return 0
    "$PYTHON" "$ROOT/tools/train.py" "$1" --work-dir "$2"
}

train_two() {  # STAGE1_CONFIG STAGE2_CONFIG WORK_ROOT
    local work2
    work2="$3/$(basename "$2" .py)"
    [ -f "$work2/last_checkpoint" ] && return 0
    WORK_DIR="$3" PYTHON="$PYTHON" bash "$ROOT/tools/pretrain_two_stage.sh" \
        "$1" "$2"
}

for method in "${METHODS[@]}"; do
    dir="$WORK_ROOT/$method"
    case $method in
        mask3d) config=$C/mask3d_vit-tiny_synthetic-demo.py
                train_one "$config" "$dir" ;;
        multimae) config=$C/multimae_vit-tiny_synthetic-demo.py
                  train_one "$config" "$dir" ;;
        simipu) config=$C/simipu_r18-tiny_synthetic-demo.py
                train_one "$config" "$dir" ;;
        m3mae) config=$C/m3mae_vit-tiny_synthetic-demo.py
               train_two $C/m3mae_stage1_vit-tiny_synthetic-demo.py \
                   "$config" "$dir"
               dir="$dir/$(basename "$config" .py)" ;;
        progressive) config=$C/progressive_stage2_vit-tiny_synthetic-demo.py
                     train_two \
                         $C/progressive_stage1_vit-tiny_synthetic-demo.py \
                         "$config" "$dir"
                     dir="$dir/$(basename "$config" .py)" ;;
        *) echo "unknown method $method" >&2; exit 2 ;;
    esac
    ckpt="$(cat "$dir/last_checkpoint")"
    "$PYTHON" "$ROOT/tools/analysis/probe_encoder.py" "$config" "$ckpt" \
        --seed 777 778 779 --init-seed 0 1 2 \
        --out "$WORK_ROOT/$method.probe.json" \
        ${EXTRA[@]+"${EXTRA[@]}"} | tee "$WORK_ROOT/$method.probe.txt"
done
for method in "${METHODS[@]}"; do
    echo "$method: $(tail -n 1 "$WORK_ROOT/$method.probe.txt")"
done
