#!/usr/bin/env python
"""Export the image encoder of a SimIPU checkpoint for mmdet3d detectors.

SimIPU pre-trains an ``mmdet.ResNet`` image encoder (held by the algorithm as
``img_backbone``, so its weights are ``img_backbone.*`` in the state dict).
This script writes it twice, as plain ``{'state_dict': ..., 'meta': ...}``
files of tensors and plain types (loadable with
``torch.load(weights_only=True)``):

* ``<OUT_PREFIX>_mvxnet.pth`` with ``img_backbone.*`` keys, for
  ``DynamicMVXFasterRCNN`` (MVX-Net);
* ``<OUT_PREFIX>_fcos3d.pth`` with ``backbone.*`` keys, for ``FCOSMono3D``
  (FCOS3D) and other single-backbone detectors.

Use them as the whole model's ``init_cfg=dict(type='Pretrained',
checkpoint=...)`` (see ``configs/downstream/``); the other parts of the
detector are reported as missing keys and keep their own initialisation.

The input is read with :func:`mmrgbd.utils.safe_load`
(``torch.load(weights_only=True)`` plus the allow-listed bookkeeping classes
of runner checkpoints), so nothing in the file is executed; a file holding
other pickled objects is refused with its name. ``--unsafe-load`` unpickles a
legacy file fully (it runs any code stored in it: only for files from a
source you trust completely).

The exported ResNet keeps the ``style`` (``'pytorch'`` or ``'caffe'``) and the
input normalisation it was pre-trained with; the downstream config must set
the same (``configs/downstream/*_simipu-r50_*.py`` do).

Example::

    python tools/model_converters/simipu2mmdet3d.py \
        work_dirs/simipu_r50_kitti/epoch_100.pth work_dirs/simipu_r50
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional

import torch

#: Output file suffix -> key prefix expected by the mmdet3d detector.
EXPORTS = OrderedDict([
    ('mvxnet', 'img_backbone.'),
    ('fcos3d', 'backbone.'),
])


def load_simipu_checkpoint(path: str) -> dict:
    """Read a SimIPU checkpoint on CPU without running code from it.

    Args:
        path (str): Weight file or runner checkpoint.

    Returns:
        dict: The loaded object.

    Raises:
        FileNotFoundError: The file does not exist.
        UnsafeCheckpointError: The file holds other pickled objects (the
            message names the file).
    """
    from mmrgbd.utils import safe_load
    return safe_load(path, map_location='cpu')


def get_state_dict(ckpt: dict, path: str = '<checkpoint>') -> dict:
    """The state dict of a loaded checkpoint (``state_dict``/``model``/itself).

    Args:
        ckpt (dict): Loaded checkpoint.
        path (str): File name for error messages.

    Returns:
        dict: Name -> tensor.
    """
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path}: expected a dict, got {type(ckpt).__name__}')
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    return ckpt


def extract_image_encoder(
        state_dict: Dict[str, torch.Tensor],
        src_prefix: str = 'img_backbone.',
        path: str = '<checkpoint>') -> 'OrderedDict[str, torch.Tensor]':
    """Keys under ``src_prefix`` with the prefix removed.

    Args:
        state_dict (dict): SimIPU model state dict.
        src_prefix (str): Prefix of the image encoder in that state dict.
        path (str): File name for error messages.

    Returns:
        OrderedDict: ResNet keys (``conv1.weight``, ``layer1.0...``) ->
        contiguous CPU tensor copies, in the original order.

    Raises:
        ValueError: No key starts with ``src_prefix``, or the encoder has no
            ``conv1.weight`` / ``stem.*`` (not an ``mmdet.ResNet``).
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(src_prefix) and torch.is_tensor(value):
            out[key[len(src_prefix):]] = value.detach().cpu().clone(
                memory_format=torch.contiguous_format)
    if not out:
        roots = sorted({k.split('.', 1)[0] for k in state_dict})
        raise ValueError(f'{path}: no weights under {src_prefix!r}; the '
                         f'top-level modules are {roots}')
    if 'conv1.weight' not in out and not any(
            k.startswith('stem.') for k in out):
        raise ValueError(f'{path}: the weights under {src_prefix!r} have '
                         'neither conv1.weight nor stem.* (not an '
                         'mmdet.ResNet)')
    return out


def export(src: str,
           out_prefix: str,
           src_prefix: str = 'img_backbone.') -> Dict[str, str]:
    """Write the MVX-Net and FCOS3D weight files.

    Args:
        src (str): SimIPU checkpoint.
        out_prefix (str): Output path prefix; ``_mvxnet.pth`` /
            ``_fcos3d.pth`` are appended.
        src_prefix (str): Prefix of the image encoder in the checkpoint.

    Returns:
        dict[str, str]: ``{'mvxnet': path, 'fcos3d': path}``.
    """
    ckpt = load_simipu_checkpoint(src)
    encoder = extract_image_encoder(get_state_dict(ckpt, src), src_prefix, src)
    out_dir = osp.dirname(osp.abspath(out_prefix))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir} does not exist')
    written = {}
    for name, dst_prefix in EXPORTS.items():
        dst = f'{out_prefix}_{name}.pth'
        meta = dict(source=osp.abspath(src),
                    source_prefix=src_prefix,
                    prefix=dst_prefix,
                    target=name,
                    num_tensors=len(encoder),
                    converter='tools/model_converters/simipu2mmdet3d.py')
        torch.save(
            dict(state_dict=OrderedDict(
                (dst_prefix + k, v) for k, v in encoder.items()),
                 meta=meta), dst)
        written[name] = dst
    return written


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Command line of the script."""
    parser = argparse.ArgumentParser(
        description='Export a SimIPU image encoder for mmdet3d MVX-Net '
        '(img_backbone.*) and FCOS3D (backbone.*)')
    parser.add_argument('src', help='SimIPU checkpoint')
    parser.add_argument('out_prefix',
                        help='output prefix; writes OUT_PREFIX_mvxnet.pth and '
                        'OUT_PREFIX_fcos3d.pth')
    parser.add_argument(
        '--src-prefix',
        default='img_backbone.',
        help='prefix of the image encoder in the SimIPU state dict')
    parser.add_argument('--unsafe-load',
                        action='store_true',
                        help='unpickle a legacy SRC fully: RUNS ANY CODE '
                        'STORED IN THE FILE; only for files you trust '
                        'completely')
    parser.add_argument('--weights-only', action='store_true',
                        help=argparse.SUPPRESS)  # always on; kept for scripts
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> None:
    """Run the export and print the written files."""
    from mmrgbd.utils import unsafe_checkpoint_loading
    args = parse_args(argv)
    try:
        with unsafe_checkpoint_loading(args.unsafe_load):
            written = export(args.src, args.out_prefix, args.src_prefix)
    except (RuntimeError, FileNotFoundError) as e:
        print(f'ERROR: cannot export {args.src}: {e}', file=sys.stderr)
        raise SystemExit(1)
    for name, path in written.items():
        print(f'{name}: {path}')


if __name__ == '__main__':
    main()
