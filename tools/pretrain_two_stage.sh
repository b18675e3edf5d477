#!/usr/bin/env bash
# Two-stage pre-training (M3 3D images, Progressive): run stage 1, then stage 2
# initialised from stage 1's last checkpoint.
#
# Usage:
#   bash tools/pretrain_two_stage.sh STAGE1_CONFIG STAGE2_CONFIG [NUM_PROCS] \
#       [train.py args for both stages...]
#
#   NUM_PROCS   1 (default): python tools/train.py; > 1: tools/dist_train.sh
#               (torchrun; GPUs, or gloo on CPU-only machines).
# Environment:
#   WORK_DIR     root of the work dirs (default work_dirs); the stages write to
#                $WORK_DIR/<config name>.
#   STAGE1_ARGS, STAGE2_ARGS   extra train.py args of one stage only
#                (word-split), e.g. STAGE2_ARGS="--amp".
#   SKIP_STAGE1=1  reuse the stage-1 checkpoint already in the stage-1 work dir.
#   PYTHON       interpreter for the single-process case (default python).
#   PORT, TORCHRUN, NNODES, ...  as tools/dist_train.sh.
#
# Stage 2 gets the checkpoint stage 1 finished with (the path mmrgbd's
# CheckpointHook records in <stage-1 work dir>/last_checkpoint, relative to
# that work dir) as
#   --cfg-options model.stage1_checkpoint=<path>
# which is the only place a stage-2 config names it: the algorithm loads the
# student encoders (and Progressive's frozen teacher) from it when the model
# is built and stops with an error naming the file and the missing keys if it
# does not fit. The file is read with torch.load(weights_only=True) (nothing
# in it is executed; see mmrgbd/utils/checkpoint.py).
# The equivalent pair of commands:
#   python tools/train.py STAGE1_CONFIG --work-dir work_dirs/s1
#   python tools/train.py STAGE2_CONFIG --work-dir work_dirs/s2 \
#       --cfg-options model.stage1_checkpoint=work_dirs/s1/$(cat work_dirs/s1/last_checkpoint)
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
STAGE1_CONFIG=$1
STAGE2_CONFIG=$2
shift 2
NUM_PROCS=1
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    NUM_PROCS=$1
    shift
fi
COMMON_ARGS=("$@")
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK_ROOT=${WORK_DIR:-work_dirs}
WORK1="$WORK_ROOT/$(basename "$STAGE1_CONFIG" .py)"
WORK2="$WORK_ROOT/$(basename "$STAGE2_CONFIG" .py)"
PYTHON=${PYTHON:-python}
read -r -a S1_ARGS <<< "${STAGE1_ARGS:-}"
read -r -a S2_ARGS <<< "${STAGE2_ARGS:-}"

train() {  # CONFIG WORK_DIR [args...]
    local config=$1 work_dir=$2
    shift 2
    if [ "$NUM_PROCS" -gt 1 ]; then
        bash "$ROOT/tools/dist_train.sh" "$config" "$NUM_PROCS" \
            --work-dir "$work_dir" "$@"
    else
        PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
            "$PYTHON" "$ROOT/tools/train.py" "$config" --work-dir "$work_dir" \
            "$@"
    fi
}

if [ "${SKIP_STAGE1:-0}" = "1" ] && [ -f "$WORK1/last_checkpoint" ]; then
    echo "[two-stage] SKIP_STAGE1=1: reusing $WORK1/$(cat "$WORK1/last_checkpoint")"
else
    echo "[two-stage] stage 1: $STAGE1_CONFIG -> $WORK1"
    train "$STAGE1_CONFIG" "$WORK1" \
        ${COMMON_ARGS[@]+"${COMMON_ARGS[@]}"} ${S1_ARGS[@]+"${S1_ARGS[@]}"}
fi

if [ ! -f "$WORK1/last_checkpoint" ]; then
    echo "[two-stage] error: stage 1 wrote no $WORK1/last_checkpoint" >&2
    exit 1
fi
STAGE1_CKPT="$(cat "$WORK1/last_checkpoint")"
case "$STAGE1_CKPT" in
    /*) ;;                                  # absolute (MMEngine's format)
    *) STAGE1_CKPT="$WORK1/$STAGE1_CKPT" ;;  # relative to the work dir
esac
if [ ! -f "$STAGE1_CKPT" ]; then
    echo "[two-stage] error: stage-1 checkpoint $STAGE1_CKPT not found" >&2
    exit 1
fi

echo "[two-stage] stage 2: $STAGE2_CONFIG -> $WORK2 (from $STAGE1_CKPT)"
train "$STAGE2_CONFIG" "$WORK2" \
    ${COMMON_ARGS[@]+"${COMMON_ARGS[@]}"} ${S2_ARGS[@]+"${S2_ARGS[@]}"} \
    --cfg-options model.stage1_checkpoint="$STAGE1_CKPT"
