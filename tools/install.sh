#!/usr/bin/env bash
# Idempotent set-up of the project-local environment (.venv) with the pinned stack.
#
#   bash tools/install.sh          # create/complete .venv; a second call rebuilds nothing
#
# Order (see README "Installation"): torch/torchvision -> wheel, ninja -> mmengine ->
# mmcv 2.1.0 built from source with CPU ops (wheel cached per torch version) ->
# mmaction2 wheel built from its sdist (cached) -> mmdet, mmseg, mmpretrain, mmdet3d,
# mmaction2 -> undeclared runtime imports -> mmrgbd (editable).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMRGBD_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
CACHE="${MMRGBD_WHEEL_CACHE:-$HOME/.cache/mmrgbd/wheels}"
REQ="$ROOT/requirements"

step() { echo "[install] $*"; }
fail() { echo "[install] FAILED at step: $CURRENT_STEP" >&2; echo "[install] see the output above for the cause" >&2; exit 1; }
trap fail ERR

# The stamp records the hash of every requirements file and this script, so set-up is
# repeated only when one of them changes.
STAMP_HASH="$(cat "$REQ"/*.txt "$ROOT/tools/install.sh" "$ROOT/setup.py" | sha256sum | cut -c1-16)"
STAMP="$VENV/.mmrgbd-installed-$STAMP_HASH"
if [ -f "$STAMP" ]; then
  step "environment up to date ($VENV)"
  exit 0
fi

CURRENT_STEP="create virtual environment $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  step "$CURRENT_STEP"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --progress-bar off)

CURRENT_STEP="torch + torchvision (requirements/torch.txt)"
step "$CURRENT_STEP"
"${PIP[@]}" -r "$REQ/torch.txt"

CURRENT_STEP="wheel + ninja"
step "$CURRENT_STEP"
"${PIP[@]}" wheel ninja

CURRENT_STEP="mmengine"
step "$CURRENT_STEP"
"${PIP[@]}" "$(grep '^mmengine' "$REQ/mminstall.txt")"

TORCH_VER="$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
MMCV_SPEC="$(grep '^mmcv' "$REQ/mminstall.txt")"
MMCV_VER="${MMCV_SPEC#mmcv==}"
WHEELDIR="$CACHE/torch-$TORCH_VER/mmcv-$MMCV_VER"
CURRENT_STEP="mmcv $MMCV_VER with ops (wheel cache $WHEELDIR)"
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VER')" 2>/dev/null; then
  if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
    step "$CURRENT_STEP: building from source (about 8 min on 2 cores)"
    # mmcv 2.1.0's setup.py predates setuptools 70; the final step restores
    # the setuptools torch needs (requirements/runtime.txt).
    "${PIP[@]}" "setuptools<70"
    mkdir -p "$WHEELDIR"
    TMPW="$(mktemp -d)"
    "$VENV/bin/python" -m pip download --no-deps --no-binary :all: -d "$TMPW" "$MMCV_SPEC"
    tar -xzf "$TMPW"/mmcv-*.tar.gz -C "$TMPW"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes -std=c++17.
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$TMPW"/mmcv-"$MMCV_VER"/setup.py
    (cd "$TMPW"/mmcv-"$MMCV_VER" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" FORCE_CUDA=0 \
      "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$TMPW/dist" .)
    mv "$TMPW"/dist/mmcv-*.whl "$WHEELDIR"/
    rm -rf "$TMPW"
  fi
  step "$CURRENT_STEP: installing cached wheel"
  "${PIP[@]}" "$WHEELDIR"/mmcv-*.whl
fi

# mmaction2's published wheel and sdist lack mmaction/models/localizers/drn, so
# `import mmaction.models` fails (open-mmlab/mmaction2#2714). A wheel is built from
# the sdist without that one import (the DRN localizer, unused here) and cached;
# it declares no requirements (its deps are in requirements/runtime.txt).
MMACTION_SPEC="$(grep '^mmaction2' "$REQ/mminstall.txt")"
MMACTION_VER="${MMACTION_SPEC#mmaction2==}"
MMACTION_DIR="$CACHE/mmaction2-$MMACTION_VER-nodrn"
CURRENT_STEP="mmaction2 $MMACTION_VER wheel without the DRN import (cache $MMACTION_DIR)"
if ! ls "$MMACTION_DIR"/mmaction2-*.whl >/dev/null 2>&1; then
  step "$CURRENT_STEP: building"
  mkdir -p "$MMACTION_DIR"
  TMPW="$(mktemp -d)"
  "$VENV/bin/python" -m pip download --no-deps --no-binary :all: -d "$TMPW" "$MMACTION_SPEC"
  tar -xzf "$TMPW"/mmaction2-*.tar.gz -C "$TMPW"
  INIT="$TMPW/mmaction2-$MMACTION_VER/mmaction/models/localizers/__init__.py"
  sed -i -e '/from \.drn\.drn import DRN/d' -e "s/, 'DRN'\]/]/" "$INIT"
  if grep -q DRN "$INIT"; then echo "[install] could not patch $INIT" >&2; false; fi
  (cd "$TMPW"/mmaction2-"$MMACTION_VER" && \
    "$VENV/bin/python" -m pip wheel --no-build-isolation --no-deps -w "$TMPW/dist" .)
  mv "$TMPW"/dist/mmaction2-*.whl "$MMACTION_DIR"/
  rm -rf "$TMPW"
fi

# One resolver run for everything else, so no later step downgrades an earlier one.
CURRENT_STEP="OpenMMLab packages (mmdet, mmseg, mmpretrain, mmdet3d, mmaction2), runtime and test requirements"
step "$CURRENT_STEP"
"${PIP[@]}" $(grep -E '^mm(det|segmentation|pretrain|det3d)' "$REQ/mminstall.txt") "$MMCV_SPEC" \
  "$(ls "$MMACTION_DIR"/mmaction2-*.whl)" \
  -r "$REQ/torch.txt" -r "$REQ/runtime.txt" -r "$REQ/tests.txt"

CURRENT_STEP="mmrgbd (editable)"
step "$CURRENT_STEP"
"${PIP[@]}" --no-build-isolation --no-deps -e "$ROOT"

CURRENT_STEP="import check"
step "$CURRENT_STEP"
"$VENV/bin/python" -c "import torch, torchvision, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain, mmdet3d, mmaction.models, mmrgbd; print('torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmrgbd', mmrgbd.__version__)"

rm -f "$VENV"/.mmrgbd-installed-*
touch "$STAMP"
step "done"
